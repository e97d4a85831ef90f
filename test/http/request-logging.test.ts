import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { useAppBed } from '../helpers/bed.js';

const lines: Array<{ level: number; msg: string; req?: { url: string } }> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(JSON.parse(chunk.toString()));
    done();
  },
});

describe('request log lines', () => {
  const bed = useAppBed(2, { logger: pino({ level: 'debug' }, sink) });

  it('logs probes and scrapes at debug and every other request at info', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/metrics-json', '/v1/threads']) await bed.app.inject({ method: 'GET', url });
    const levelOf = (url: string) => lines.filter((line) => line.msg === 'incoming request' && line.req?.url === url).map((line) => line.level);
    expect(levelOf('/healthz')).toEqual([20]);
    expect(levelOf('/readyz')).toEqual([20]);
    expect(levelOf('/metrics')).toEqual([20]);
    expect(levelOf('/metrics-json')).toEqual([20]);
    expect(levelOf('/v1/threads')).toEqual([30]);
    const completed = lines.filter((line) => line.msg === 'request completed').map((line) => line.level);
    expect(completed).toEqual([20, 20, 20, 20, 30]);
  });
});
