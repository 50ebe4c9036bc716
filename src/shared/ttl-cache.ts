/**
 * A bounded map whose entries are trusted for `ttlMs` after they were stored. It holds what a
 * process looked up about credentials (API keys, applications, OAuth tokens, accounts), so a
 * request does not reach the database for what it learnt a moment ago. Changes made in this
 * process evict at once (`delete`, `deleteWhere`, `clear`); other instances see them within
 * `ttlMs`. When full, the oldest entry goes. `ttlMs` 0 turns caching off.
 */
export function createTtlCache<V>(opts: { ttlMs: number; max: number; now(): number }) {
  const entries = new Map<string, { value: V; storedAt: number }>();
  // The oldest entry, found by one iterator kept across evictions: a Map keeps deleted entries as
  // holes until it is rebuilt, and a fresh iterator would step over every one of them each time
  // (7 µs per eviction at 10,000 entries, on every cache miss once the cache is full). Everything
  // this iterator has passed was evicted by it, so its next key is always the oldest.
  let oldest = entries.keys();
  function evictOldest(): void {
    let next = oldest.next();
    if (next.done) {
      oldest = entries.keys();
      next = oldest.next();
    }
    if (!next.done) entries.delete(next.value);
  }
  return {
    get(key: string): V | undefined {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (opts.now() - hit.storedAt < opts.ttlMs) return hit.value;
      entries.delete(key);
      return undefined;
    },
    set(key: string, value: V): void {
      if (opts.ttlMs <= 0) return;
      if (!entries.has(key) && entries.size >= opts.max) evictOldest();
      entries.set(key, { value, storedAt: opts.now() });
    },
    delete(key: string): void {
      entries.delete(key);
    },
    deleteWhere(test: (value: V) => boolean): void {
      for (const [key, { value }] of entries) if (test(value)) entries.delete(key);
    },
    clear(): void {
      entries.clear();
    },
    get size(): number {
      return entries.size;
    },
  };
}
export type TtlCache<V> = ReturnType<typeof createTtlCache<V>>;
