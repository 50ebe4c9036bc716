import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Every API-key request writes an activity row, and a row is written into each of the table's
// indexes. api_key_activity_key_at (key_id, at) is the leading part of api_key_activity_key_at_id
// (key_id, at, id, from 0034), which serves every query by key: the pages of a key's activity, the
// list before it, and the foreign key's cascade when a key is deleted (EXPLAIN on SQLite and
// PostgreSQL). Keyed by key first, each index takes a row from every key of a batch at its own
// place, a page written per key: dropping the duplicate halves what a batch of many keys writes.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_key_activity_key_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('api_key_activity_key_at').on('api_key_activity').columns(['key_id', 'at']).execute();
}
