/**
 * Where request counts live. The in-memory store serves one process; several instances need a
 * shared one (PostgreSQL or Redis, via rate-limiter-flexible) behind this same interface.
 */
export interface WindowHit {
  count: number;
  resetAt: number;
}

export interface RateLimitStore {
  /**
   * Counts one request for `key` in the fixed window of `windowMs` that contains `now`. A store in
   * memory answers at once (no promise to wait for on every request); a shared one asynchronously.
   */
  hit(key: string, windowMs: number, now: number): WindowHit | Promise<WindowHit>;
}

/** The in-memory store: it answers at once, and says how many windows it holds. */
export interface MemoryStore extends RateLimitStore {
  hit(key: string, windowMs: number, now: number): WindowHit;
  readonly size: number;
}

/**
 * Fixed windows aligned to the clock, in a Map. Time comes from the caller, so tests drive it
 * with an injected clock. Stale windows are swept as the map grows. The map is bounded: requests
 * without a credential are counted per address, and a caller with many addresses (an IPv6 prefix)
 * would otherwise add an hour-long window per address without end. When sweeping leaves it full,
 * the oldest tenth goes (insertion order), so memory stays bounded; the price, only under such a
 * flood, is that a forgotten window starts counting again.
 */
export function createMemoryStore(opts: { maxKeys?: number } = {}): MemoryStore {
  const windows = new Map<string, { start: number; windowMs: number; count: number }>();
  const maxKeys = opts.maxKeys ?? 100_000;

  function sweep(now: number): void {
    for (const [k, w] of windows) if (w.start + w.windowMs <= now) windows.delete(k);
    if (windows.size < maxKeys) return;
    let excess = windows.size - maxKeys + Math.ceil(maxKeys / 10);
    for (const k of windows.keys()) {
      if (excess-- <= 0) break;
      windows.delete(k);
    }
  }

  return {
    hit(key, windowMs, now) {
      const start = Math.floor(now / windowMs) * windowMs;
      const id = `${windowMs}:${key}`;
      let w = windows.get(id);
      if (!w || w.start !== start) {
        if (windows.size >= maxKeys) sweep(now);
        w = { start, windowMs, count: 0 };
        windows.set(id, w);
      }
      w.count += 1;
      return { count: w.count, resetAt: start + windowMs };
    },
    get size() {
      return windows.size;
    },
  };
}
