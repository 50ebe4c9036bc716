import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Dynamic client registration (RFC 7591/7592). An application says how it came to be
// (`registration`: `manual` from the dashboard, CLI or API; `dynamic` when a client registered
// itself at /oauth/register), and a self-registered one carries its review state (pending,
// approved, rejected) and the SHA-256 of its registration access token (RFC 7592), never the
// token. `registration_tokens` are the initial access tokens an admin issues for `token` mode:
// hashed, with an optional expiry and number of uses; the admin who issued one owns the clients
// registered with it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('registration', 'text', (c) => c.notNull().defaultTo('manual'))
    .execute();
  await db.schema.alterTable('applications').addColumn('review_state', 'text').execute();
  await db.schema.alterTable('applications').addColumn('registration_token_hash', 'text').execute();
  await db.schema.alterTable('applications').addColumn('registered_with', 'text').execute();
  await db.schema
    .createIndex('applications_review')
    .on('applications')
    .columns(['registration', 'review_state'])
    .execute();

  await db.schema
    .createTable('registration_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('max_uses', 'integer')
    .addColumn('uses', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('registration_tokens').execute();
  await db.schema.dropIndex('applications_review').execute();
  for (const column of ['registered_with', 'registration_token_hash', 'review_state', 'registration']) {
    await db.schema.alterTable('applications').dropColumn(column).execute();
  }
}
