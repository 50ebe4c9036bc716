import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Per application: the browser origins whose pages may call the APIs with its tokens besides its
// redirect URIs' own (a JSON array of origins, CORS), and the APIs it may obtain exchanged tokens
// for on a person's behalf (a JSON array of API identifiers, RFC 8693 token exchange).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('applications')
    .addColumn('allowed_origins', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
  await db.schema
    .alterTable('applications')
    .addColumn('token_exchange', 'text', (c) => c.notNull().defaultTo('[]'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('token_exchange').execute();
  await db.schema.alterTable('applications').dropColumn('allowed_origins').execute();
}
