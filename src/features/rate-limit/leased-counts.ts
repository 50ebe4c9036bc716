import type { WindowHit } from './store.ts';

/** Counts to add to one shared row, and how long a window it opens when it starts one. */
export interface Reservation {
  key: string;
  points: number;
  windowMs: number;
}

/** A shared row after an addition: its count, and when its window ends (epoch ms). */
export interface Reserved {
  points: number;
  expire: number;
}

/**
 * Adds every reservation to its shared row at once (one database statement, one message to the
 * cluster's primary) and answers each key's row after the addition.
 */
export type Reserve = (rows: Reservation[], now: number) => Promise<Map<string, Reserved>>;

/** Counts at most this many ahead of demand in one reservation. */
const MAX_SPARE = 256;
/** ... and at most this share of what the window has left, so other processes keep the rest. */
const SPARE_SHARE = 1 / 16;
/**
 * Row states kept at most by default (each is a key's window, a few hundred bytes): requests
 * without a credential are counted per address, so a caller with many addresses makes many.
 */
const MAX_ROWS = 20_000;
/** How often the states that hold no numbers are let go. */
const FORGET_EVERY_MS = 10_000;

interface Waiting {
  resolve(hit: WindowHit): void;
  reject(err: unknown): void;
}

/**
 * The counts reserved in one shared row for this process: numbers `next` to `last` of the window
 * that ends at `resetAt`. Each is handed to one request, as the count it sees. The row already
 * holds them, so no other process is handed the same numbers.
 */
interface Lease {
  next: number;
  last: number;
  resetAt: number;
}

/** What this process knows of one row: its lease, and the hits waiting for the shared counts. */
interface RowState {
  key: string;
  windowMs: number;
  /** The window's limit, when callers give one: reservations stay within it. */
  limit: number | undefined;
  lease: Lease | null;
  /** Hits since the last reservation was sent: the next one reserves twice that ahead, so it grows while they come. */
  demand: number;
  /** Hits waiting for the next reservation. */
  waiting: Waiting[];
  /** The hits a reservation in flight will answer (null: none in flight). */
  inFlight: Waiting[] | null;
  /** How many counts the reservation in flight adds. */
  taking: number;
  /** Whether the row is on the list of the next reservation. */
  due: boolean;
}

export interface LeasedCounts {
  /** Counts one hit of row `key` (a window of `windowMs`), with the window's limit when there is one. */
  hit(key: string, windowMs: number, limit: number | undefined): WindowHit | Promise<WindowHit>;
  /** The rows this process keeps a state for. */
  readonly size: number;
}

/**
 * Counts kept elsewhere (a database, the cluster's primary), handed out by this process. A count
 * is the shared row's: a request is answered with a number the row has reserved for it. Rows that
 * several requests hit reserve a few numbers ahead, for this process alone (a lease), so most
 * requests are counted without waiting; the hits of one event-loop turn that find no number left
 * are reserved together, with the next lease, so a request waits at most once for its limits.
 *
 * No number is handed out twice across processes, so a limit is never exceeded; the price is that
 * numbers reserved and not used before their window ends are lost, and that a request's count (its
 * `RateLimit-Remaining`) tells the numbers handed out, some still unused in other processes. A
 * reservation is planned on the demand since the previous one (it grows while the demand lasts),
 * is at most MAX_SPARE ahead and at most SPARE_SHARE of what the window has left: small limits
 * (under 16 left) are counted hit by hit, exactly. Without a limit (the sign-in throttle) every
 * hit is counted where the counts are kept.
 */
export function createLeasedCounts(reserve: Reserve, opts: { maxRows?: number } = {}): LeasedCounts {
  const maxRows = opts.maxRows ?? MAX_ROWS;
  const rows = new Map<string, RowState>();
  let due: RowState[] = [];

  const forget = setInterval(() => forgetIdle(Date.now()), FORGET_EVERY_MS);
  forget.unref();

  /** A count from the row's lease, when it holds one for the current window. */
  function fromLease(row: RowState, now: number): WindowHit | undefined {
    const lease = row.lease;
    if (lease === null || lease.next > lease.last || now >= lease.resetAt) return undefined;
    return { count: lease.next++, resetAt: lease.resetAt };
  }

  /** How many numbers to reserve beyond the waiting hits. */
  function spareFor(row: RowState, now: number): number {
    const lease = row.lease;
    // The window's count is known only from a lease of this window; a new window starts exact.
    if (row.limit === undefined || lease === null || now >= lease.resetAt) return 0;
    const left = row.limit - lease.last;
    return Math.max(0, Math.min(MAX_SPARE, Math.floor(left * SPARE_SHARE), 2 * row.demand));
  }

  function stateOf(key: string, windowMs: number, limit: number | undefined): RowState {
    let row = rows.get(key);
    if (row === undefined) {
      if (rows.size >= maxRows) forgetIdle(Date.now());
      row = { key, windowMs, limit, lease: null, demand: 0, waiting: [], inFlight: null, taking: 0, due: false };
      rows.set(key, row);
    }
    row.limit = limit;
    return row;
  }

  /**
   * Idle rows that hold no numbers go (their window ended, or their lease is used up: the next hit
   * starts exact again); past the bound, the oldest idle ones too, their numbers lost to the window.
   */
  function forgetIdle(now: number): void {
    let excess = rows.size - Math.floor(maxRows * 0.9);
    for (const [key, row] of rows) {
      const idle = row.inFlight === null && row.waiting.length === 0;
      const lease = row.lease;
      const holdsNone = lease === null || now >= lease.resetAt || lease.next > lease.last;
      if (idle && (excess > 0 || holdsNone)) {
        rows.delete(key);
        excess -= 1;
      }
    }
  }

  function schedule(row: RowState): void {
    if (row.due) return;
    row.due = true;
    if (due.length === 0) setImmediate(() => void flush());
    due.push(row);
  }

  async function flush(): Promise<void> {
    const batch = due;
    due = [];
    const now = Date.now();
    for (const row of batch) {
      row.due = false;
      row.taking = row.waiting.length + spareFor(row, now);
      row.inFlight = row.waiting;
      row.waiting = [];
      row.demand = 0;
    }
    try {
      const counted = await reserve(
        batch.map((row) => ({ key: row.key, points: row.taking, windowMs: row.windowMs })),
        now,
      );
      const answeredAt = Date.now();
      for (const row of batch) settle(row, counted.get(row.key)!, answeredAt);
    } catch (err) {
      for (const row of batch) {
        for (const w of row.inFlight!) w.reject(err);
        row.inFlight = null;
        if (row.waiting.length > 0) schedule(row);
      }
    }
  }

  /** The row's numbers after the reservation: the first to the hits it was sent for, the rest leased. */
  function settle(row: RowState, counted: Reserved, now: number): void {
    const resetAt = Math.max(counted.expire, now);
    let count = counted.points - row.taking;
    for (const w of row.inFlight!) w.resolve({ count: ++count, resetAt });
    row.inFlight = null;
    row.lease = { next: count + 1, last: counted.points, resetAt };
    // Hits that came while the reservation was away take what is left; the others wait for the next one.
    const arrived = row.waiting;
    row.waiting = [];
    for (const w of arrived) {
      const hit = fromLease(row, now);
      if (hit) w.resolve(hit);
      else row.waiting.push(w);
    }
    if (row.waiting.length > 0) schedule(row);
  }

  return {
    hit(key, windowMs, limit) {
      const row = stateOf(key, windowMs, limit);
      row.demand += 1;
      // Windows run on this clock (and the shared store's), not the caller's.
      const now = Date.now();
      if (row.inFlight === null) {
        const leased = fromLease(row, now);
        if (leased) return leased;
      }
      return new Promise<WindowHit>((resolve, reject) => {
        row.waiting.push({ resolve, reject });
        // With a reservation in flight, these wait for its lease (settle) before asking again.
        if (row.inFlight === null) schedule(row);
      });
    },
    get size() {
      return rows.size;
    },
  };
}
