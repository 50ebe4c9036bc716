import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Where an application hears of a sign-out: the addresses a browser may be sent back to after
// RP-initiated logout (a JSON array, exact match), the back-channel logout endpoint that receives
// logout tokens (null: none), and whether it needs the session id (`sid`) in them (0/1).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('post_logout_redirect_uris', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema.alterTable('applications').addColumn('backchannel_logout_uri', 'text').execute();
  await db.schema
    .alterTable('applications')
    .addColumn('backchannel_logout_session_required', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('backchannel_logout_session_required').execute();
  await db.schema.alterTable('applications').dropColumn('backchannel_logout_uri').execute();
  await db.schema.alterTable('applications').dropColumn('post_logout_redirect_uris').execute();
}
