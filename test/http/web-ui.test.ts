import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandler } from '../../src/http/errors.js';
import { registerWebUi } from '../../src/http/web-ui.js';

describe('web inbox serving (GET /)', () => {
  let root: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'wahub-ui-'));
    await mkdir(path.join(root, 'assets'));
    await writeFile(path.join(root, 'index.html'), '<!doctype html><div id="root"></div>');
    await writeFile(path.join(root, 'assets', 'index-abc123.js'), 'console.log(1)');
    app = Fastify();
    registerErrorHandler(app);
    app.get('/v1/threads', async () => ({ data: [] }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    await registerWebUi(app, root);
  });
  afterAll(async () => {
    await app.close();
    await rm(root, { recursive: true, force: true });
  });

  it('serves index.html at / and for the app\'s own routes, with a content security policy', async () => {
    for (const url of ['/', '/threads/0b7c5a4e-1111-4222-8333-444455556666', '/numbers']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers['content-type']).toMatch(/text\/html/);
      expect(response.body).toContain('<div id="root">');
      expect(response.headers['content-security-policy']).toContain("default-src 'self'");
      expect(response.headers['cache-control']).toBe('no-cache');
    }
  });

  it('serves hashed assets with a long cache', async () => {
    const response = await app.inject({ url: '/assets/index-abc123.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toContain('immutable');
  });

  it('never shadows the API, webhooks, probes or metrics: unknown paths there stay JSON 404', async () => {
    expect((await app.inject({ url: '/v1/threads' })).json()).toEqual({ data: [] });
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    for (const url of ['/v1/nothing', '/v1', '/webhooks/unknown', '/metrics-json/x', '/simulator/x', '/readyz/x', '/docs/x']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().error.code).toBe('not_found');
    }
  });

  it('explains how to build the UI when there is no build', async () => {
    const bare = Fastify();
    expect(await registerWebUi(bare, path.join(root, 'missing'))).toBe(false);
    const response = await bare.inject({ url: '/' });
    expect(response.body).toContain('npm run build');
    await bare.close();
  });
});
