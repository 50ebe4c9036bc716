import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Per application: whether PKCE is required at the authorization endpoint (1: yes, the default,
// and always for public clients; a confidential web application may turn it off), and the OpenID
// subject type its ID tokens and userinfo use (`public`: the account id; `pairwise`: an identifier
// of that account for this application's sector alone).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('require_pkce', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  // Web applications registered before this worked without PKCE: they keep working so.
  await db.updateTable('applications').set({ require_pkce: 0 }).where('type', '=', 'web').execute();
  await db.schema
    .alterTable('applications')
    .addColumn('subject_type', 'text', (c) => c.notNull().defaultTo('public'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('subject_type').execute();
  await db.schema.alterTable('applications').dropColumn('require_pkce').execute();
}
