import { sql } from 'kysely';
import type { DB } from '../../src/db/client.ts';
import { isPostgres } from '../../src/db/client.ts';

export interface DumpedValue {
  table: string;
  column: string;
  value: string;
}

/**
 * Every text value of every table, as an attacker holding a copy of the database would see them
 * (SQLite or PostgreSQL), read through the server's own connection.
 */
export async function dumpDatabase(db: DB): Promise<DumpedValue[]> {
  const tables = isPostgres(db)
    ? (
        await sql<{
          name: string;
        }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`.execute(db)
      ).rows
    : (
        await sql<{
          name: string;
        }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(db)
      ).rows;
  const out: DumpedValue[] = [];
  for (const { name } of tables) {
    const rows = (await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(name)}`.execute(db)).rows;
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (typeof value === 'string') out.push({ table: name, column, value });
        else if (Buffer.isBuffer(value)) out.push({ table: name, column, value: value.toString('utf8') });
      }
    }
  }
  return out;
}

/** The SQLite file a test server runs on, or null on PostgreSQL. */
export function sqliteFileOf(server: { config: { database: { kind: string; file?: string } } }): string | null {
  const { database } = server.config;
  return database.kind === 'sqlite' && database.file ? database.file : null;
}
