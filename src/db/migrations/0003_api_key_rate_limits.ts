import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// An API key may carry its own rate limit (benchmarks and trusted integrations use this).

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('rate_limit_hourly', 'integer').execute();
  await db.schema.alterTable('api_keys').addColumn('rate_limit_burst', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('rate_limit_burst').execute();
  await db.schema.alterTable('api_keys').dropColumn('rate_limit_hourly').execute();
}
