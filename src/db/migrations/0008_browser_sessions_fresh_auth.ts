import { sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Sudo mode: when each browser session last authenticated interactively (sign-in or
// re-confirmation); sessions from before this migration count as never confirmed.
// The sign-in throttle's generation: each completed sign-in starts the account's failure counts
// afresh (the shared counters only ever go up).
// The account of each oidc-provider Session row, so a password change can end them all; a partial
// index, so token inserts (no account) do not pay for it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('browser_sessions').addColumn('authenticated_at', 'bigint').execute();
  await db.schema
    .alterTable('users')
    .addColumn('sign_in_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('oidc_payloads').addColumn('account_id', 'text').execute();
  await db.schema
    .createIndex('oidc_payloads_account')
    .on('oidc_payloads')
    .column('account_id')
    .where(sql.ref('account_id'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('oidc_payloads_account').execute();
  await db.schema.alterTable('oidc_payloads').dropColumn('account_id').execute();
  await db.schema.alterTable('users').dropColumn('sign_in_count').execute();
  await db.schema.alterTable('browser_sessions').dropColumn('authenticated_at').execute();
}
