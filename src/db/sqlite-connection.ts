import type SQLite from 'better-sqlite3';
import type { Kysely } from 'kysely';

const CONNECTION = Symbol('sqlite connection');

/**
 * Ties a SQLite database's one connection to the Kysely instance that serves it, for the reads
 * that may run without waiting (prepared.ts, `preparedRead`): better-sqlite3 answers
 * synchronously, while every query through Kysely costs a chain of promises (its connection
 * mutex, the driver, the executor). PostgreSQL has no such connection.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema; only the instance is marked
export function tieConnection<D extends Kysely<any>>(db: D, sqlite: SQLite.Database): D {
  Object.defineProperty(db, CONNECTION, { value: sqlite });
  return db;
}

/** The SQLite connection behind `db`, if it is SQLite's (undefined on PostgreSQL). */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export function sqliteConnectionOf(db: Kysely<any>): SQLite.Database | undefined {
  return (db as unknown as { [CONNECTION]?: SQLite.Database })[CONNECTION];
}
