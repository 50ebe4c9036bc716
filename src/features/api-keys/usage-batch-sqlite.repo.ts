import type SQLite from 'better-sqlite3';
import type { ApiKeyActivityRow } from '../../db/schema.ts';
import { refuseNulIn } from '../../db/refuse-nul.ts';
import { ACTIVITY_COLUMNS, latestByKey } from './activity-batch.repo.ts';

/**
 * A batch of API-key activity written on SQLite's connection in one synchronous transaction, with
 * one prepared statement per row: what the batch statements through Kysely do (the same stamps,
 * the same rows, the same NUL check), without them. When every request reads its key from the
 * database, each batch names ~500 keys; there a multi-row stamp over a VALUES list and a separate
 * existence check cost more than a stamp per key whose change count says the key exists (raw
 * SQLite, 1M keys, 50,000 in turn: 27-29 µs a row against 21-22), building and compiling those
 * statements in Kysely was more CPU again, and while the batch's transaction stayed open across
 * awaits every key read meanwhile had to wait for it (prepared.ts). A single connection has no
 * other writer inside this function: JavaScript runs it to the end, and the caller holds
 * Kysely's connection (so no transaction of Kysely's is open on it).
 *
 * Returns how many entries it wrote: entries of keys deleted meanwhile are left out.
 */
export function sqliteUsageWriter(sqlite: SQLite.Database): (entries: readonly ApiKeyActivityRow[]) => number {
  // Prepared on first use: a repository is made before the migrations have made its tables.
  let write: SQLite.Transaction<(entries: readonly ApiKeyActivityRow[]) => number> | undefined;
  function prepare() {
    const stamp = sqlite.prepare(
      'update api_keys set last_used_at = ?, last_used_ip = ? ' +
        'where id = ? and (last_used_at is null or last_used_at < ?)',
    );
    const exists = sqlite.prepare('select 1 from api_keys where id = ?').pluck();
    const slots = ACTIVITY_COLUMNS.map(() => '?').join(', ');
    const insert = sqlite.prepare(`insert into api_key_activity (${ACTIVITY_COLUMNS.join(', ')}) values (${slots})`);
    const values: unknown[] = new Array(ACTIVITY_COLUMNS.length);
    return sqlite.transaction((entries: readonly ApiKeyActivityRow[]): number => {
      const live = new Set<string>();
      for (const [keyId, e] of latestByKey(entries)) {
        refuseNulIn([keyId, e.ip]);
        // No change: the key is gone, or another batch already stamped a later use (it exists).
        if (stamp.run(e.at, e.ip, keyId, e.at).changes > 0 || exists.get(keyId) !== undefined) live.add(keyId);
      }
      let written = 0;
      for (const e of entries) {
        if (!live.has(e.key_id)) continue;
        for (let c = 0; c < ACTIVITY_COLUMNS.length; c++) values[c] = e[ACTIVITY_COLUMNS[c]!];
        refuseNulIn(values);
        insert.run(values);
        written += 1;
      }
      return written;
    });
  }
  return (entries) => {
    write ??= prepare();
    return write.immediate(entries);
  };
}
