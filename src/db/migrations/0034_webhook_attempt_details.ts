import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// What each webhook attempt sent and what came back, so a person can see why a receiver refused:
// the headers sent (signature values, never the secret) and the first KiB of the response body
// (the repository caps it). And an index for paging a key's activity newest first by (at, id),
// the keyset cursor, so each page is a seek whatever filter narrows it.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_attempts').addColumn('request_headers', 'text').execute();
  await db.schema.alterTable('webhook_attempts').addColumn('response_excerpt', 'text').execute();
  await db.schema
    .createIndex('api_key_activity_key_at_id')
    .on('api_key_activity')
    .columns(['key_id', 'at', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_key_activity_key_at_id').execute();
  await db.schema.alterTable('webhook_attempts').dropColumn('response_excerpt').execute();
  await db.schema.alterTable('webhook_attempts').dropColumn('request_headers').execute();
}
