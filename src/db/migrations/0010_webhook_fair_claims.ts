import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Fair claims: when an endpoint last had a delivery claimed (the pool serves the account served
// least recently first, whichever instance claimed last); each endpoint's oldest due deliveries
// by index seek, whatever the backlog; what is in flight, from the claims alone.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_endpoints').addColumn('last_claimed_at', 'bigint').execute();
  await db.schema
    .createIndex('webhook_deliveries_endpoint_due')
    .on('webhook_deliveries')
    .columns(['endpoint_id', 'status', 'next_attempt_at', 'id'])
    .execute();
  await db.schema.createIndex('webhook_deliveries_locked').on('webhook_deliveries').column('locked_until').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('webhook_deliveries_locked').execute();
  await db.schema.dropIndex('webhook_deliveries_endpoint_due').execute();
  await db.schema.alterTable('webhook_endpoints').dropColumn('last_claimed_at').execute();
}
