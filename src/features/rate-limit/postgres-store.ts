import type pg from 'pg';
import type { RateLimitStore } from './store.ts';
import { createRateLimitsRepo } from './rate-limits.repo.ts';
import { createLeasedCounts } from './leased-counts.ts';
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

/**
 * Counters shared by every instance on one PostgreSQL database (table `rate_limits`): each
 * process reserves counts in the rows and hands them out (leased-counts.ts), so a busy row costs a
 * statement now and then rather than one per request, and no count is handed out twice across
 * instances. Each window starts at its bucket's first request and runs for its length (the clock
 * of the instance that opens it).
 */
export function createPostgresStore(
  pool: pg.Pool,
  opts: { maxRows?: number } = {},
): RateLimitStore & { readonly size: number } {
  const repo = createRateLimitsRepo(pool);
  const sweep = setInterval(() => {
    repo.deleteEndedBefore(Date.now() - SWEEP_AFTER_MS).catch(() => {}); // retried at the next sweep
  }, SWEEP_EVERY_MS);
  sweep.unref();

  const counts = createLeasedCounts(async (rows, now) => {
    try {
      return await repo.add(rows, now);
    } catch (err) {
      // Counting needs the database: without it the request is refused as "try again", not 500.
      throw isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
    }
  }, opts);

  return {
    hit(key, windowMs, _now, limit) {
      // Windows of whole seconds, as rate-limiter-flexible kept them (rows stay readable by either).
      const windowSeconds = Math.max(1, Math.round(windowMs / 1000));
      return counts.hit(`w${windowMs}:${storedKey(key)}`, windowSeconds * 1000, limit);
    },
    get size() {
      return counts.size;
    },
  };
}
