import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Single-use links sent by email (verify an address, reset a password, confirm a new address).
// Only the SHA-256 of each link's token is stored; a link is used by setting used_at, once.
// users.email_verified_at: when the account's current address was last proven by a link
// (null: never, which is every account created before this migration).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();
  await db.schema
    .createTable('email_links')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    // The address a link proves: the account's own for verification, the new one for a change.
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema.createIndex('email_links_user').on('email_links').columns(['user_id', 'purpose']).execute();
  await db.schema.createIndex('email_links_expiry').on('email_links').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('email_links').execute();
  await db.schema.alterTable('users').dropColumn('email_verified_at').execute();
}
