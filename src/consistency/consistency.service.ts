/**
 * Consistency proofs (SPEC §2.3, §2.6): `runChecks` runs every proof query (plus the token check,
 * which needs the encryption keys) for a scope; `assertConsistent` is validate-after-save: the
 * WABA-scoped checks inside the connecting transaction, which rolls back on any violation.
 */
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { listStoredTokens, proofQueries, type Scope, type Violation } from './consistency.repository.js';

export interface CheckResult {
  name: string;
  description: string;
  ok: boolean;
  violations: Violation[];
}

// A real ciphertext is base64url of at least IV + tag (28 bytes); Meta tokens start with "EAA".
const CIPHERTEXT_PATTERN = /^[A-Za-z0-9_-]{38,}$/;

function decrypts(cipher: TokenCipher, ciphertext: string, keyId: string | null): boolean {
  try {
    cipher.decrypt({ ciphertext, keyId: keyId ?? '' });
    return true;
  } catch {
    return false;
  }
}

async function checkTokens(db: Db | Tx, cipher: TokenCipher | undefined, scope: Scope): Promise<CheckResult> {
  const violations: Violation[] = [];
  for (const row of await listStoredTokens(db, scope)) {
    const ciphertext = row.access_token_ciphertext!;
    // Decrypting proves encryption: a genuine ciphertext starts with "EAA" whenever its random IV
    // begins with 0x10 0x00 0x0? (1 in 262,144), and the prefix test alone flagged it as plaintext —
    // in `wahub doctor` and, worse, in validate-after-save, which then refused the connection.
    if (cipher && decrypts(cipher, ciphertext, row.access_token_key_id)) continue;
    if (!CIPHERTEXT_PATTERN.test(ciphertext) || ciphertext.startsWith('EAA')) {
      violations.push({ subject: row.phone_number_id, detail: 'token looks like plaintext' });
    } else if (cipher) {
      violations.push({ subject: row.phone_number_id, detail: `token does not decrypt with the configured keys (key id ${row.access_token_key_id})` });
    }
  }
  return { name: 'tokens_encrypted', description: 'every stored token is AES-256-GCM ciphertext that decrypts with a configured key', ok: violations.length === 0, violations };
}

/**
 * Runs the proofs for a scope.
 * @param cipher the configured keys; without them the token check only looks for plaintext
 * @param onlyWabaScoped run just the checks that concern one WABA and its numbers
 */
export async function runChecks(db: Db | Tx, scope: Scope, cipher?: TokenCipher, onlyWabaScoped = false): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [name, check] of Object.entries(proofQueries)) {
    if (onlyWabaScoped && !check.wabaScoped) continue;
    const violations = await check.run(db, scope);
    results.push({ name, description: check.description, ok: violations.length === 0, violations });
  }
  results.push(await checkTokens(db, cipher, scope));
  return results;
}

/**
 * Validate-after-save for one WABA (or, for a Twilio number, which has none, the organization's
 * numbers), inside the writing transaction.
 * @param cipher the configured keys, so that the token check decrypts instead of guessing from the text
 * @throws AppError consistency_check_failed listing the failed checks (the caller's transaction rolls back)
 */
export async function assertConsistent(tx: Tx, scope: { orgId: string; wabaId: string | null }, logger?: Logger, cipher?: TokenCipher): Promise<void> {
  const checkScope = scope.wabaId === null ? { orgId: scope.orgId } : { wabaId: scope.wabaId };
  const failed = (await runChecks(tx, checkScope, cipher, true)).filter((check) => !check.ok);
  logger?.info({ event: 'consistency_check', org_id: scope.orgId, waba_id: scope.wabaId, failed: failed.map((c) => c.name) }, 'consistency check');
  if (failed.length > 0) {
    throw new AppError('consistency_check_failed', `the connection would break ${failed.length} invariant(s): ${failed.map((c) => c.name).join(', ')}`,
      failed.map((check) => ({ check: check.name, violations: check.violations })));
  }
}
