import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Two things about secrets:
// - An application's previous client secret (SHA-256, like the current one) and when it stops
//   working: a rotation may keep the old secret valid for a chosen overlap. Only one previous secret
//   is kept, so a second rotation ends the first overlap.
// - A secret shown once, held between the form post and the page that shows it (Post/Redirect/Get):
//   sealed with SECRETS_KEY, bound to one browser session (deleted with it), taken by the first view.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').addColumn('previous_secret_hash', 'text').execute();
  await db.schema.alterTable('applications').addColumn('previous_secret_expires_at', 'bigint').execute();

  await db.schema
    .createTable('shown_once_secrets')
    .addColumn('session_id_hash', 'text', (c) => c.notNull().references('browser_sessions.id_hash').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('shown_once_secrets_pk', ['session_id_hash', 'purpose', 'subject_id'])
    .execute();
  await db.schema.createIndex('shown_once_secrets_expires').on('shown_once_secrets').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('shown_once_secrets').execute();
  await db.schema.alterTable('applications').dropColumn('previous_secret_expires_at').execute();
  await db.schema.alterTable('applications').dropColumn('previous_secret_hash').execute();
}
