/**
 * Demo data of sandbox mode, created on first start: an organization, an owner operator with an
 * API key, and a WABA with one phone number (the ids of the shared fixtures, so their sample
 * webhooks route to it). The demo API key is kept in `<dataDir>/sandbox-demo.json` so every start
 * can print it; this file exists only in sandbox mode.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/database.js';
import { connectPhoneNumber } from '../numbers/numbers.service.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { findOrganizationById } from '../tenancy/tenancy.repository.js';
import { createOperator, createOrganization } from '../tenancy/tenancy.service.js';

export const DEMO_NUMBER = {
  wabaId: '100000000000001',
  phoneNumberId: '200000000000001',
  displayPhoneNumber: '15550100001',
  accessToken: 'sandbox-access-token',
} as const;

export interface SandboxDemo {
  org_id: string;
  operator_id: string;
  operator_email: string;
  api_key: string;
  phone_number_id: string;
}

/** Returns the demo data, creating it when this database does not have it yet. */
export async function seedSandbox(db: Db, cipher: TokenCipher, dataDir: string): Promise<{ demo: SandboxDemo; created: boolean }> {
  const file = path.resolve(dataDir, 'sandbox-demo.json');
  if (existsSync(file)) {
    const demo = JSON.parse(await readFile(file, 'utf8')) as SandboxDemo;
    if (await findOrganizationById(db, demo.org_id)) return { demo, created: false };
  }
  const org = await createOrganization(db, 'Demo organization');
  const email = 'demo@wahub.local';
  const operator = await createOperator(db, { orgId: org.id, email, name: 'Demo Owner', role: 'owner' });
  try {
    await connectPhoneNumber(db, cipher, { orgId: org.id, ...DEMO_NUMBER, operatorId: operator.id, verifiedName: 'wahub demo' });
  } catch (error) {
    // The demo number may already belong to an older demo organization of this database.
    if (!(error instanceof AppError && error.code === 'conflict')) throw error;
  }
  const demo: SandboxDemo = { org_id: org.id, operator_id: operator.id, operator_email: email, api_key: operator.apiKey, phone_number_id: DEMO_NUMBER.phoneNumberId };
  await writeFile(file, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return { demo, created: true };
}
