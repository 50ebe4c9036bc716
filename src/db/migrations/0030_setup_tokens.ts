import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// First-run setup links: while no admin exists, each start issues a link whose token creates the
// owner account once. Only the SHA-256 of a token is stored, with its expiry; creating the owner
// deletes every row, so each link works once, on whichever instance serves it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('setup_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('setup_tokens').execute();
}
