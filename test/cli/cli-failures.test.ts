import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWahub } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** Nothing listens on port 1: every connection is refused. */
const UNREACHABLE_URL = 'postgres://nobody@127.0.0.1:1/x';

/** A PostgreSQL server that refuses every login as PostgreSQL does for a wrong password (SQLSTATE 28P01). */
async function startPasswordRefusingServer(): Promise<{ url: string; server: Server }> {
  const field = (type: string, value: string) => Buffer.concat([Buffer.from(type), Buffer.from(value), Buffer.from([0])]);
  const body = Buffer.concat([
    field('S', 'FATAL'), field('V', 'FATAL'), field('C', '28P01'), field('M', 'password authentication failed for user "nobody"'), Buffer.from([0]),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  const errorResponse = Buffer.concat([Buffer.from('E'), length, body]);
  const server = createServer((socket) => {
    socket.once('data', () => socket.end(errorResponse));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `postgres://nobody:wrong@127.0.0.1:${port}/x`, server };
}

const json = (stdout: string) => JSON.parse(stdout.trim()) as { error: { code: string; message: string; hint?: string } };

describe('wahub CLI failures', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(1);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('names a refused connection with host and port, not a migration, in one line with a hint', async () => {
    const human = await runWahub(['migrate', 'up'], { databaseUrl: UNREACHABLE_URL });
    expect(human.code).toBe(1);
    expect(human.stderr).toContain(
      'wahub: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused\n'
      + 'hint: is PostgreSQL running there? check DATABASE_URL, or unset it to run on embedded PostgreSQL\n',
    );
    const machine = await runWahub(['org', 'create', '--name', 'x', '--json'], { databaseUrl: UNREACHABLE_URL });
    expect(machine.code).toBe(1);
    expect(json(machine.stdout).error).toMatchObject({ code: 'database_unreachable', message: 'cannot connect to PostgreSQL at 127.0.0.1:1: connection refused' });
  });

  it('reports a refused connection the same way when serve starts (npm start)', async () => {
    const result = await runWahub(['serve', '--json'], { databaseUrl: UNREACHABLE_URL, extra: { PORT: '0' } });
    expect(result.code).toBe(1);
    expect(json(result.stdout).error.message).toBe('cannot connect to PostgreSQL at 127.0.0.1:1: connection refused');
  });

  it('says the password was refused, naming the user', async () => {
    const { url, server } = await startPasswordRefusingServer();
    try {
      const human = await runWahub(['migrate', 'status'], { databaseUrl: url });
      expect(human.code).toBe(1);
      expect(human.stderr).toContain('wahub: password authentication failed for user "nobody"\nhint: check the user and password in DATABASE_URL\n');
      const machine = await runWahub(['migrate', 'status', '--json'], { databaseUrl: url });
      expect(json(machine.stdout).error).toMatchObject({ code: 'database_auth_failed', message: 'password authentication failed for user "nobody"' });
    } finally {
      server.close();
    }
  });

  it('says which database does not exist', async () => {
    const url = new URL(t.url);
    url.pathname = '/wahub_no_such_database';
    const result = await runWahub(['migrate', 'status', '--json'], { databaseUrl: url.toString() });
    expect(result.code).toBe(1);
    expect(json(result.stdout).error).toMatchObject({ code: 'database_not_found', message: 'database "wahub_no_such_database" does not exist' });
  });

  it('lists every configuration problem on one line', async () => {
    const result = await runWahub(['migrate', 'status', '--json'], { databaseUrl: t.url, extra: { PORT: 'not-a-port', DATABASE_POOL_SIZE: '-1' } });
    expect(result.code).toBe(1);
    const { error } = json(result.stdout);
    expect(error.code).toBe('invalid_configuration');
    expect(error.message).toMatch(/^invalid configuration: (?=.*PORT: )(?=.*; )(?=.*DATABASE_POOL_SIZE: )/);
    expect(error.message).not.toContain('\n');
  });

  it('fails on a port in use before touching the database, and suggests PORT=', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      // The database is unreachable: had the hub connected (migrations, dispatcher) before binding, this would say so.
      const result = await runWahub(['serve', '--json'], { databaseUrl: UNREACHABLE_URL, extra: { PORT: String(port), HOST: '127.0.0.1' } });
      expect(result.code).toBe(1);
      expect(json(result.stdout).error).toEqual({
        code: 'port_in_use',
        message: `port ${port} on 127.0.0.1 is already in use (another wahub running?)`,
        hint: `stop the other process, or choose a free port: PORT=${port + 1} npm start`,
      });
      expect(result.stderr).toBe('');
    } finally {
      taken.close();
    }
  });
});
