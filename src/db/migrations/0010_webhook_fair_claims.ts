import type { Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// When an endpoint last had a delivery claimed: the delivery pool serves the account served least
// recently first (round robin), whichever instance claimed last.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_endpoints').addColumn('last_claimed_at', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_endpoints').dropColumn('last_claimed_at').execute();
}
