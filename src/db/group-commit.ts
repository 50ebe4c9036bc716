import { batchesPerTurn } from './turn-batches.ts';

/** How a group of writes reaches the database. */
export interface GroupWriter<T> {
  /** Writes every item in one commit (one statement or one transaction); all or nothing. */
  writeGroup(items: T[]): Promise<void>;
  /** Writes one item on its own: a group of one, and each item again when its group failed. */
  writeOne(item: T): Promise<void>;
  /** The most items one group holds; more arriving in the same turn make several groups. */
  maxGroup: number;
}

/**
 * Writes that arrive in the same turn of the event loop, committed together. Every commit costs
 * the database its own log write (on SQLite the WAL frames of the table and of each index it
 * touches, written with a system call each), so concurrent requests that each issue a token pay
 * that once per group instead of once per token. Each caller's promise settles when its own item
 * is durable, never before. When a group fails, each of its items is written again alone, so one
 * bad item (a value the driver refuses, say) fails only its own caller.
 *
 * The items wait at most one turn (flushed from `setImmediate`, after the I/O callbacks of the
 * turn that queued them). Nothing is held across turns and nothing is cached: a read made after
 * a write's promise settled sees it.
 */
export function groupCommit<T>(writer: GroupWriter<T>): (item: T) => Promise<void> {
  type Pending = { item: T; resolve: () => void; reject: (err: unknown) => void };

  async function writeAlone(entry: Pending): Promise<void> {
    try {
      await writer.writeOne(entry.item);
      entry.resolve();
    } catch (err) {
      entry.reject(err);
    }
  }

  async function commit(group: Pending[]): Promise<void> {
    if (group.length === 1) return writeAlone(group[0]!);
    try {
      await writer.writeGroup(group.map((entry) => entry.item));
    } catch {
      // In order, one at a time: two writes of the same row end as they would have without grouping.
      for (const entry of group) await writeAlone(entry);
      return;
    }
    for (const entry of group) entry.resolve();
  }

  const enqueue = batchesPerTurn<Pending>(writer.maxGroup, (group) => void commit(group));

  return (item) =>
    new Promise<void>((resolve, reject) => {
      enqueue({ item, resolve, reject });
    });
}
