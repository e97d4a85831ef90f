import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/wahub.js');
const TOKEN_KEYS = `k1:${Buffer.alloc(32, 5).toString('base64')}`;

describe('wahub CLI', () => {
  let t: TestDatabase;
  let dataDir: string;
  // Sandbox mode (no META_APP_SECRET) writes its generated secrets under WAHUB_DATA_DIR.
  const env = () => ({ ...process.env, DATABASE_URL: t.url, TOKEN_ENCRYPTION_KEYS: TOKEN_KEYS, LOG_LEVEL: 'warn', WAHUB_DATA_DIR: dataDir });
  const wahub = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [BIN, ...args, '--json'], { env: env() });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0]!) as Record<string, unknown>;
  };

  beforeAll(async () => {
    t = await createTestDatabase(2);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-cli-'));
    await chmod(dataDir, 0o755);
  });
  afterAll(async () => {
    await t.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates an organization, an operator, an API key and a number, each printing one JSON object', async () => {
    const org = await wahub('org', 'create', '--name', 'CLI org');
    expect(org.id).toMatch(/^[0-9a-f-]{36}$/);
    const operator = await wahub('operator', 'create', '--org', String(org.id), '--email', 'cli@example.test', '--role', 'admin');
    expect(operator.api_key).toMatch(/^wah_[0-9a-f]{12}_/);
    const key = await wahub('api-key', 'create', '--org', String(org.id), '--operator', String(operator.id));
    expect(key.api_key).not.toBe(operator.api_key);
    const number = await wahub(
      'number', 'add', '--org', String(org.id), '--waba-id', '777000000000001', '--phone-number-id', '777000000000002',
      '--display-phone-number', '15550100009', '--access-token', 'cli-secret-token', '--throughput-mps', '20',
    );
    const row = await t.db.selectFrom('phone_numbers').selectAll().where('id', '=', String(number.id)).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ org_id: org.id, phone_number_id: '777000000000002', e164: '+15550100009', throughput_mps: 20, access_token_key_id: 'k1' });
    expect(row.access_token_ciphertext).not.toContain('cli-secret-token');
    expect(await t.db.selectFrom('api_keys').select('id').where('org_id', '=', String(org.id)).execute()).toHaveLength(2);
  });

  it('sets and resets a web inbox password with --password-stdin and refuses a short one before creating anything', async () => {
    const org = await wahub('org', 'create', '--name', 'Password org');
    const create = (email: string, password: string) => new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [BIN, 'operator', 'create', '--org', String(org.id), '--email', email, '--role', 'agent', '--password-stdin', '--json'],
        { env: env() }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }));
      child.stdin!.end(`${password}\n`);
    });
    const ok = await create('pw@example.test', 'a long enough password');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ password_set: true });
    const row = await t.db.selectFrom('operators').select('password_hash').where('email', '=', 'pw@example.test').executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$/);
    const reset = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const id = String(JSON.parse(ok.stdout).id);
      const child = execFile(process.execPath, [BIN, 'operator', 'set-password', '--org', String(org.id), '--operator', id, '--password-stdin', '--json'],
        { env: env() }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }));
      child.stdin!.end('another long password\n');
    });
    expect(reset.code).toBe(0);
    const after = await t.db.selectFrom('operators').select('password_hash').where('email', '=', 'pw@example.test').executeTakeFirstOrThrow();
    expect(after.password_hash).not.toBe(row.password_hash);
    const short = await create('short@example.test', 'short');
    expect(short.code).toBe(1);
    expect(JSON.parse(short.stdout).error.code).toBe('validation_failed');
    expect(await t.db.selectFrom('operators').select('id').where('email', '=', 'short@example.test').execute()).toEqual([]);
  }, 90_000);

  it('reports migration status as JSON', async () => {
    const status = await wahub('migrate', 'status');
    const migrations = status.migrations as Array<{ name: string; executedAt: string | null }>;
    expect(migrations[0]?.name).toBe('0001_initial');
    expect(migrations.every((m) => /^\d{4}_[a-z_]+$/.test(m.name) && m.executedAt !== null)).toBe(true);
  });

  it('exits 1 with a JSON error for a refused command', async () => {
    const failed = await run(process.execPath, [BIN, 'operator', 'create', '--org', '00000000-0000-0000-0000-000000000000', '--email', 'x@example.test', '--role', 'agent', '--json'], { env: env() })
      .then(() => undefined, (error: { code: number; stdout: string }) => error);
    expect(failed?.code).toBe(1);
    expect(JSON.parse(failed!.stdout)).toEqual({ error: { code: 'not_found', message: 'organization not found' } });
  });
});
