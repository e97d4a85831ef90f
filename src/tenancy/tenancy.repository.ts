/**
 * SQL for organizations, operators and API keys.
 */
import type { Executor } from '../db/database.js';
import type { OperatorRole } from '../db/schema.js';


export async function insertOrganization(db: Executor, name: string): Promise<{ id: string }> {
  return db.insertInto('organizations').values({ name }).returning('id').executeTakeFirstOrThrow();
}

export async function findOrganizationById(db: Executor, id: string): Promise<{ id: string; name: string } | undefined> {
  return db.selectFrom('organizations').select(['id', 'name']).where('id', '=', id).executeTakeFirst();
}

export async function insertOperator(
  db: Executor,
  values: { orgId: string; email: string; name: string | null; role: OperatorRole },
): Promise<{ id: string }> {
  return db
    .insertInto('operators')
    .values({ org_id: values.orgId, email: values.email, name: values.name, role: values.role })
    .returning('id')
    .executeTakeFirstOrThrow();
}

export async function findOperator(db: Executor, orgId: string, operatorId: string) {
  return db
    .selectFrom('operators')
    .select(['id', 'org_id', 'email', 'name', 'role', 'disabled_at'])
    .where('org_id', '=', orgId)
    .where('id', '=', operatorId)
    .executeTakeFirst();
}

export async function insertApiKey(
  db: Executor,
  values: { orgId: string; operatorId: string; prefix: string; keyHash: string },
): Promise<{ id: string }> {
  return db
    .insertInto('api_keys')
    .values({ org_id: values.orgId, operator_id: values.operatorId, prefix: values.prefix, key_hash: values.keyHash })
    .returning('id')
    .executeTakeFirstOrThrow();
}

/** The key with this prefix, joined to its operator; revoked keys and disabled operators included (the caller decides). */
export async function findApiKeyByPrefix(db: Executor, prefix: string) {
  return db
    .selectFrom('api_keys')
    .innerJoin('operators', (join) =>
      join.onRef('operators.org_id', '=', 'api_keys.org_id').onRef('operators.id', '=', 'api_keys.operator_id'),
    )
    .select([
      'api_keys.id',
      'api_keys.org_id',
      'api_keys.operator_id',
      'api_keys.key_hash',
      'api_keys.revoked_at',
      'api_keys.last_used_at',
      'operators.role',
      'operators.disabled_at',
    ])
    .where('api_keys.prefix', '=', prefix)
    .executeTakeFirst();
}

export async function touchApiKey(db: Executor, id: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', id).execute();
}
