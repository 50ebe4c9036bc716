/**
 * A bounded map whose entries are trusted for `ttlMs` after they were stored. It holds what a
 * process looked up about credentials (API keys, applications, OAuth tokens, accounts), so a
 * request does not reach the database for what it learnt a moment ago. Changes made in this
 * process evict at once (`delete`, `deleteWhere`, `clear`); other instances see them within
 * `ttlMs`. When full, the oldest entry goes. `ttlMs` 0 turns caching off.
 *
 * Full means `max` entries or, with `maxBytes`, that many bytes by `roughBytes` of the values: a
 * count alone would let a cache of large rows (token payloads, application settings) hold tens of
 * megabytes, while one of small entries could hold many more.
 */
export function createTtlCache<V>(opts: { ttlMs: number; max: number; now(): number; maxBytes?: number }) {
  const entries = new Map<string, { value: V; storedAt: number; bytes: number }>();
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  let bytes = 0;
  const forget = (key: string) => {
    const hit = entries.get(key);
    if (!hit) return;
    bytes -= hit.bytes;
    entries.delete(key);
  };
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
    if (!next.done) forget(next.value);
  }
  return {
    get(key: string): V | undefined {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (opts.now() - hit.storedAt < opts.ttlMs) return hit.value;
      forget(key);
      return undefined;
    },
    set(key: string, value: V): void {
      if (opts.ttlMs <= 0) return;
      const size = opts.maxBytes === undefined ? 0 : roughBytes(value);
      if (size > maxBytes) return;
      forget(key);
      while (entries.size > 0 && (entries.size >= opts.max || bytes + size > maxBytes)) {
        evictOldest();
      }
      entries.set(key, { value, storedAt: opts.now(), bytes: size });
      bytes += size;
    },
    delete(key: string): void {
      forget(key);
    },
    deleteWhere(test: (value: V) => boolean): void {
      for (const [key, { value }] of entries) if (test(value)) forget(key);
    },
    clear(): void {
      entries.clear();
      bytes = 0;
    },
    get size(): number {
      return entries.size;
    },
    /** What the entries weigh by `roughBytes` (0 without `maxBytes`: nothing is weighed then). */
    get bytes(): number {
      return bytes;
    },
  };
}
export type TtlCache<V> = ReturnType<typeof createTtlCache<V>>;

/**
 * About what a value holds in the heap: a string's characters, 8 bytes a number, and 16 more a
 * field or element. An estimate to bound a cache by, not an exact account (V8's object headers and
 * hidden classes vary); it walks plain objects and arrays, three levels deep.
 */
export function roughBytes(value: unknown, depth = 0): number {
  if (typeof value === 'string') return 16 + value.length;
  if (value === null || typeof value !== 'object') return 8;
  if (depth >= 3) return 64;
  let total = 16;
  if (Array.isArray(value)) for (const item of value) total += 8 + roughBytes(item, depth + 1);
  else for (const key in value) total += 16 + roughBytes((value as Record<string, unknown>)[key], depth + 1);
  return total;
}
