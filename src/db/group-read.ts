import { batchesPerTurn } from './turn-batches.ts';

/** How a group of reads reaches the database. */
export interface GroupReader<K, R> {
  /** Reads every key in one statement; the answer holds the rows found, told apart by `keyOf`. */
  readGroup(keys: K[]): Promise<R[]>;
  /** Reads one key on its own: a group of one, and each key again when its group failed. */
  readOne(key: K): Promise<R | undefined>;
  /** Which key a row of readGroup's answer belongs to (as `idOf` names the key). */
  keyOfRow(row: R): string;
  /** A key's identity: two keys with the same id are one read. */
  idOf(key: K): string;
  /** The most keys one group holds; more arriving in the same turn make several groups. */
  maxGroup: number;
}

/**
 * Lookups by key that arrive in the same turn of the event loop, answered by one statement. Each
 * statement costs the driver and the query layer far more than the row it finds (a primary-key
 * lookup on SQLite: a few µs of search, fifteen of statement and promise overhead), so concurrent
 * requests that each read a token pay that once per group. Each caller gets its own row, or
 * undefined, exactly as readOne would answer it. When a group fails, each key is read again alone,
 * so an error reaches only the callers whose own read fails.
 *
 * The keys wait at most one turn (read from `setImmediate`, after the I/O callbacks of the turn
 * that queued them), and the statement runs then: a read asked for after a write's promise settled
 * sees that write. Nothing is kept once a group is answered.
 */
export function groupRead<K, R>(reader: GroupReader<K, R>): (key: K) => Promise<R | undefined> {
  type Pending = { key: K; resolve: (row: R | undefined) => void; reject: (err: unknown) => void };

  async function readAlone(entry: Pending): Promise<void> {
    try {
      entry.resolve(await reader.readOne(entry.key));
    } catch (err) {
      entry.reject(err);
    }
  }

  async function read(group: Pending[]): Promise<void> {
    if (group.length === 1) return readAlone(group[0]!);
    let rows: R[];
    try {
      rows = await reader.readGroup(group.map((entry) => entry.key));
    } catch {
      await Promise.all(group.map(readAlone));
      return;
    }
    const found = new Map<string, R>();
    for (const row of rows) found.set(reader.keyOfRow(row), row);
    for (const entry of group) entry.resolve(found.get(reader.idOf(entry.key)));
  }

  const enqueue = batchesPerTurn<Pending>(reader.maxGroup, (group) => void read(group));

  return (key) =>
    new Promise<R | undefined>((resolve, reject) => {
      enqueue({ key, resolve, reject });
    });
}
