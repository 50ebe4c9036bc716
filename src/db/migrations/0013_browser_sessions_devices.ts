import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// What Settings → Sessions shows of each dashboard session: the browser's user agent (capped), the
// address it was last used from, when it was last seen, and a public handle for the sign-out forms
// (the id hash is the lookup key of a bearer secret and never leaves the server). A session signed in
// through an OAuth sign-in also remembers its oidc-provider session (SHA-256 of that session's uid),
// so signing it out ends both. Sessions from before this migration get a handle; the rest stays null.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('browser_sessions').addColumn('public_id', 'text').execute();
  await db.schema.alterTable('browser_sessions').addColumn('user_agent', 'text').execute();
  await db.schema.alterTable('browser_sessions').addColumn('ip', 'text').execute();
  await db.schema.alterTable('browser_sessions').addColumn('last_seen_at', 'bigint').execute();
  await db.schema.alterTable('browser_sessions').addColumn('provider_session_uid_hash', 'text').execute();
  const existing = await db.selectFrom('browser_sessions').select('id_hash').execute();
  for (const { id_hash } of existing) {
    await db
      .updateTable('browser_sessions')
      .set({ public_id: `ses_${randomBytes(16).toString('hex')}` })
      .where('id_hash', '=', id_hash)
      .execute();
  }
  await db.schema
    .createIndex('browser_sessions_public_id')
    .on('browser_sessions')
    .column('public_id')
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('browser_sessions_public_id').execute();
  for (const column of ['provider_session_uid_hash', 'last_seen_at', 'ip', 'user_agent', 'public_id']) {
    await db.schema.alterTable('browser_sessions').dropColumn(column).execute();
  }
}
