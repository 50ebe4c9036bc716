import type pg from 'pg';
import type { RateLimitStore, WindowHit } from './store.ts';
import { createRateLimitsRepo } from './rate-limits.repo.ts';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../../db/unavailable.ts';
import { sha256 } from '../../shared/secrets.ts';

/**
 * A bucket key may carry what a client typed (the sign-in throttle's holds the email as given, up
 * to 254 characters), but the table's key column is varchar(255), prefix included, and PostgreSQL
 * text cannot hold NUL: such a key is counted under its SHA-256 instead, which fits and stays
 * distinct. Shorter keys are stored as they are, readable in the table.
 */
const MAX_PLAIN_KEY = 200;
const storedKey = (key: string): string =>
  key.length <= MAX_PLAIN_KEY && !key.includes('\u0000') ? key : `sha256:${sha256(key)}`;

/** Rows whose window ended this long ago are deleted, every SWEEP_EVERY_MS (as rate-limiter-flexible did). */
const SWEEP_AFTER_MS = 3_600_000;
const SWEEP_EVERY_MS = 300_000;

interface Waiting {
  /** The row's key: the window length, then the bucket (rate-limiter-flexible's `keyPrefix:key`). */
  row: string;
  windowMs: number;
  resolve(hit: WindowHit): void;
  reject(err: unknown): void;
}

/**
 * Counters shared by every instance on one PostgreSQL database (table `rate_limits`). The hits of
 * one event-loop turn (a request's hourly and burst windows, and those of the requests that arrived
 * with it) are counted in one statement, so a request costs at most one round trip for its limits
 * and fewer under load. The counts are the database's, so they stay exact across instances; each
 * window starts at its bucket's first request and runs for its length (the clock of the instance
 * that opens it).
 */
export function createPostgresStore(pool: pg.Pool): RateLimitStore {
  const repo = createRateLimitsRepo(pool);
  let queued: Waiting[] = [];

  const sweep = setInterval(() => {
    repo.deleteEndedBefore(Date.now() - SWEEP_AFTER_MS).catch(() => {}); // retried at the next sweep
  }, SWEEP_EVERY_MS);
  sweep.unref();

  async function flush(): Promise<void> {
    const batch = queued;
    queued = [];
    // Several hits of one row in a batch are one addition; each then gets its own count, in order.
    const byRow = new Map<string, Waiting[]>();
    for (const w of batch) {
      const same = byRow.get(w.row);
      if (same) same.push(w);
      else byRow.set(w.row, [w]);
    }
    try {
      const rows = await repo.add(
        [...byRow].map(([row, hits]) => ({ key: row, points: hits.length, windowMs: hits[0]!.windowMs })),
        Date.now(),
      );
      const now = Date.now();
      for (const [row, hits] of byRow) {
        const counted = rows.get(row)!;
        const resetAt = Math.max(counted.expire, now);
        let count = counted.points - hits.length;
        for (const w of hits) w.resolve({ count: ++count, resetAt });
      }
    } catch (err) {
      // Counting needs the database: without it the request is refused as "try again", not 500.
      const failure = isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
      for (const w of batch) w.reject(failure);
    }
  }

  return {
    hit(key, windowMs) {
      // Windows of whole seconds, as rate-limiter-flexible kept them (rows stay readable by either).
      const windowSeconds = Math.max(1, Math.round(windowMs / 1000));
      return new Promise<WindowHit>((resolve, reject) => {
        if (queued.length === 0) setImmediate(() => void flush());
        queued.push({ row: `w${windowMs}:${storedKey(key)}`, windowMs: windowSeconds * 1000, resolve, reject });
      });
    },
  };
}
