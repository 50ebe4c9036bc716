import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// APIs ("resource servers") registered by owners, beside the built-in /v2 API (which has no row).
// Their scopes have a table of their own so that a scope name is unique across every API: an
// application's `scopes` list names them without saying which API, so each name must mean one.
// A resource_server application belongs to one API (`api`: its identifier; null: the built-in one),
// and is deleted with it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('apis')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('identifier', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('access_token_format', 'text', (c) => c.notNull())
    .addColumn('access_token_ttl', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('apis_owner').on('apis').columns(['owner_id', 'created_at']).execute();
  await db.schema
    .createTable('api_scopes')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('api_id', 'text', (c) => c.notNull().references('apis.id').onDelete('cascade'))
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('api_scopes_api').on('api_scopes').columns(['api_id', 'position']).execute();
  // A resource server goes with its API (an account's deletion takes its APIs): left behind, it
  // would introspect the tokens of whoever registers the same identifier next.
  await db.schema
    .alterTable('applications')
    .addColumn('api', 'text', (c) => c.references('apis.identifier').onDelete('cascade'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').dropColumn('api').execute();
  await db.schema.dropTable('api_scopes').execute();
  await db.schema.dropTable('apis').execute();
}
