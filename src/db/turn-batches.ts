/**
 * Collects what arrives in one turn of the event loop and hands it on in batches of at most
 * `maxBatch`, from `setImmediate` (after the I/O callbacks of the turn that queued it). Nothing is
 * held across turns. The mechanism under group-commit.ts and group-read.ts.
 */
export function batchesPerTurn<T>(maxBatch: number, handle: (batch: T[]) => void): (entry: T) => void {
  let pending: T[] = [];
  function flush(): void {
    const queued = pending;
    pending = [];
    for (let start = 0; start < queued.length; start += maxBatch) handle(queued.slice(start, start + maxBatch));
  }
  return (entry) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(entry);
  };
}

/** `make(key)` once per key, then the same value: a statement compiled once per group size, say. */
export function oncePerKey<K, V>(make: (key: K) => V): (key: K) => V {
  const made = new Map<K, V>();
  return (key) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
}
