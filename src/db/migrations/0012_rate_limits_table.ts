import { PostgresAdapter, sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// The shared rate-limit counters' table on PostgreSQL, in rate-limiter-flexible's own layout. The
// library can create it on first use, but instances that start together race to do so and all but
// one fail ("relation already exists"); the migrator runs one instance at a time. SQLite counts in
// memory (or through the `serve --workers` primary) and needs no table.

export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`CREATE TABLE IF NOT EXISTS rate_limits (
    key varchar(255) PRIMARY KEY,
    points integer NOT NULL DEFAULT 0,
    expire bigint
  )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`DROP TABLE IF EXISTS rate_limits`.execute(db);
}
