import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// An administrator may suspend an application: while `suspended_at` is set it is no client at all
// (authorize, token, introspection, its tokens at the API), and its grants wait for it to come back.
// The operators' console lists every application and every API key newest first, a page at a time:
// (created_at, id) is the keyset each pages by. Its webhook health asks, per endpoint, about the
// deliveries attempted lately: (endpoint_id, last_attempt_at) answers without reading the rest.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('applications').addColumn('suspended_at', 'bigint').execute();
  await db.schema
    .createIndex('applications_created_idx')
    .on('applications')
    .columns(['created_at', 'client_id'])
    .execute();
  await db.schema.createIndex('api_keys_created_idx').on('api_keys').columns(['created_at', 'id']).execute();
  await db.schema
    .createIndex('webhook_deliveries_endpoint_attempted')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'last_attempt_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_endpoint_attempted').execute();
  await db.schema.dropIndex('api_keys_created_idx').execute();
  await db.schema.dropIndex('applications_created_idx').execute();
  await db.schema.alterTable('applications').dropColumn('suspended_at').execute();
}
