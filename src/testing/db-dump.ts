import SQLite from 'better-sqlite3';

export interface DumpedValue {
  table: string;
  column: string;
  value: string;
}

/**
 * Every text (and blob, read as UTF-8) value of every table in a SQLite file, read through a
 * separate read-only connection (so rows still in the WAL are included), as an attacker holding a
 * copy of the database would see them.
 */
export function dumpTextValues(file: string): DumpedValue[] {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      .pluck()
      .all() as string[];
    const out: DumpedValue[] = [];
    for (const table of tables) {
      for (const row of db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
        for (const [column, value] of Object.entries(row)) {
          if (typeof value === 'string') out.push({ table, column, value });
          else if (Buffer.isBuffer(value)) out.push({ table, column, value: value.toString('utf8') });
        }
      }
    }
    return out;
  } finally {
    db.close();
  }
}

/** The SQLite file a test server runs on. */
export function sqliteFileOf(server: { config: { database: { kind: string; file?: string } } }): string {
  const { database } = server.config;
  if (database.kind !== 'sqlite' || !database.file) throw new Error('the test server is not on SQLite');
  return database.file;
}
