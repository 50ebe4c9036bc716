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
   * memory answers at once (no promise to wait for on every request); a shared one asynchronously,
   * or at once when it holds counts reserved for this window (see postgres-store.ts). `limit`, the
   * window's limit when the caller has one, lets a shared store reserve within it; without it every
   * hit is counted where the counts are shared.
   */
  hit(key: string, windowMs: number, now: number, limit?: number): WindowHit | Promise<WindowHit>;
}

/** The in-memory store: it answers at once, and says how many windows it holds. */
export interface MemoryStore extends RateLimitStore {
  hit(key: string, windowMs: number, now: number): WindowHit;
  /** Counts `points` hits at once (a worker's reservation, in the cluster's primary). */
  add(key: string, windowMs: number, now: number, points: number): WindowHit;
  readonly size: number;
}

/** The counts of every key in one window of one length: the window is the same for all of them. */
interface CurrentWindow {
  start: number;
  counts: Map<string, number>;
}

/**
 * Fixed windows aligned to the clock. Time comes from the caller, so tests drive it with an
 * injected clock. Because windows are aligned, every key's window of one length is the same
 * window: the store keeps, per window length, the start of the current window and a count per
 * key. When a request falls in another window the old counts are dropped whole (a count never
 * outlives its window), so a stale window costs nothing to find and the map keys are the callers'
 * bucket strings themselves, shared by a policy's windows (no string made per window and request).
 *
 * The store is bounded: requests without a credential are counted per address, and a caller with
 * many addresses (an IPv6 prefix) would otherwise add an hour-long count per address without end.
 * When `maxKeys` counts are held, the oldest tenth of the fullest window goes (insertion order),
 * so memory stays bounded; the price, only under such a flood, is that a forgotten count starts
 * again.
 */
export function createMemoryStore(opts: { maxKeys?: number } = {}): MemoryStore {
  const windows = new Map<number, CurrentWindow>();
  const maxKeys = opts.maxKeys ?? 100_000;
  let held = 0;

  function windowAt(windowMs: number, start: number): CurrentWindow {
    let current = windows.get(windowMs);
    if (current === undefined) {
      current = { start, counts: new Map() };
      windows.set(windowMs, current);
    } else if (current.start !== start) {
      held -= current.counts.size;
      current.start = start;
      current.counts = new Map();
    }
    return current;
  }

  /** Makes room: the oldest tenth of the fullest window goes. */
  function forgetOldest(): void {
    let counts: Map<string, number> | undefined;
    for (const w of windows.values()) if (!counts || w.counts.size > counts.size) counts = w.counts;
    if (!counts) return;
    let excess = Math.ceil(maxKeys / 10);
    for (const k of counts.keys()) {
      if (excess-- <= 0) break;
      counts.delete(k);
      held -= 1;
    }
  }

  function add(key: string, windowMs: number, now: number, points: number): WindowHit {
    const start = Math.floor(now / windowMs) * windowMs;
    const { counts } = windowAt(windowMs, start);
    const before = counts.get(key);
    if (before === undefined) {
      if (held >= maxKeys) forgetOldest();
      held += 1;
    }
    const count = (before ?? 0) + points;
    counts.set(key, count);
    return { count, resetAt: start + windowMs };
  }

  return {
    hit: (key, windowMs, now) => add(key, windowMs, now, 1),
    add,
    get size() {
      return held;
    },
  };
}
