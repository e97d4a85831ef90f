/**
 * Demo data of sandbox mode, created on first start: an organization, an owner operator with an
 * API key and a web inbox password, and a WABA with one phone number (the ids of the shared
 * fixtures, so their sample webhooks route to it). The demo API key and password are kept in
 * `<dataDir>/sandbox-demo.json` (mode 0600) so every start can print them; this file exists only in
 * sandbox mode.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../db/database.js';
import { connectPhoneNumber } from '../numbers/numbers.service.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { setOperatorPassword } from '../sessions/sessions.service.js';
import { findOrganizationById } from '../tenancy/tenancy.repository.js';
import { createOperator, createOrganization } from '../tenancy/tenancy.service.js';
import { importTemplates } from '../templates/template-sync.service.js';
import { findConnectedWabas } from '../templates/templates.repository.js';
import { sandboxRegistryTemplates } from './templates.js';

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
  /** Password of the demo operator for the web inbox. */
  operator_password: string;
  phone_number_id: string;
}

const newDemoPassword = () => `demo-${randomBytes(9).toString('base64url')}`;

/** A demo customer: a wa_id (`from`), or, for a customer with a username and no visible number, a BSUID (`user_id`). */
export interface DemoCustomer {
  from?: string;
  user_id?: string;
  username?: string;
  profile_name: string;
  text: string;
}

/** Demo customers who write first on a fresh sandbox, so the inbox has conversations to show (one known only by username). */
export const DEMO_CUSTOMERS: readonly DemoCustomer[] = [
  { user_id: 'BR.1502576394655843', username: 'ana.costa', profile_name: 'Ana Costa', text: 'Oi! Do you have the blue one in size M?' },
  { from: '14155550123', profile_name: 'Maya Chen', text: 'Hi! Is my order #1042 on its way?' },
  { from: '447700900123', profile_name: 'Oliver Smith', text: 'Hello, can I change my delivery address?' },
  { from: '4915112345678', profile_name: 'Lena Vogel', text: 'Do you ship to Germany?' },
];

/** Returns the demo data, creating it when this database does not have it yet. */
export async function seedSandbox(db: Db, cipher: TokenCipher, dataDir: string): Promise<{ demo: SandboxDemo; created: boolean }> {
  const file = path.resolve(dataDir, 'sandbox-demo.json');
  if (existsSync(file)) {
    const demo = JSON.parse(await readFile(file, 'utf8')) as SandboxDemo;
    if (await findOrganizationById(db, demo.org_id)) {
      if (!demo.operator_password) {
        // Data from before the web inbox: give the demo operator a password now.
        demo.operator_password = newDemoPassword();
        await setOperatorPassword(db, demo.org_id, demo.operator_id, demo.operator_password);
        await writeFile(file, JSON.stringify(demo, null, 2), { mode: 0o600 });
      }
      return { demo, created: false };
    }
  }
  const org = await createOrganization(db, 'Demo organization');
  const email = 'demo@wahub.local';
  const operator = await createOperator(db, { orgId: org.id, email, name: 'Demo Owner', role: 'owner' });
  const password = newDemoPassword();
  await setOperatorPassword(db, org.id, operator.id, password);
  try {
    await connectPhoneNumber(db, cipher, { orgId: org.id, ...DEMO_NUMBER, operatorId: operator.id, verifiedName: 'wahub demo' });
    const [waba] = await findConnectedWabas(db, org.id, { wabaId: DEMO_NUMBER.wabaId });
    if (waba) await importTemplates(db, org.id, waba.id, sandboxRegistryTemplates());
  } catch (error) {
    // The demo number may already belong to an older demo organization of this database.
    if (!(error instanceof AppError && error.code === 'conflict')) throw error;
  }
  const demo: SandboxDemo = { org_id: org.id, operator_id: operator.id, operator_email: email, api_key: operator.apiKey, operator_password: password, phone_number_id: DEMO_NUMBER.phoneNumberId };
  await writeFile(file, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return { demo, created: true };
}
