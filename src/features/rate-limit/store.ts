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

/**
 * Fixed windows aligned to the clock, in a Map. Time comes from the caller, so tests drive it
 * with an injected clock. Stale windows are swept as the map grows.
 */
export function createMemoryStore(opts: { maxKeys?: number } = {}): RateLimitStore {
  const windows = new Map<string, { start: number; windowMs: number; count: number }>();
  const maxKeys = opts.maxKeys ?? 100_000;

  function sweep(now: number): void {
    for (const [k, w] of windows) if (w.start + w.windowMs <= now) windows.delete(k);
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
  };
}
