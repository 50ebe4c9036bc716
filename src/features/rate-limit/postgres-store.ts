import type pg from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { RateLimitStore } from './store.ts';
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

/**
 * Counters shared by every instance on one PostgreSQL database, through rate-limiter-flexible
 * (its table `rate_limits`, created by a migration). One limiter per window length; its points are
 * effectively unlimited because the decision is ours (decide.ts): it only counts. Its windows
 * start at a bucket's first request and run on the database's clock, not the injected one.
 */
export function createPostgresStore(pool: pg.Pool): RateLimitStore {
  const limiters = new Map<number, RateLimiterPostgres>();

  const limiterFor = (windowMs: number) => {
    let limiter = limiters.get(windowMs);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient: pool,
        storeType: 'pool',
        tableName: 'rate_limits',
        keyPrefix: `w${windowMs}`,
        points: 2_000_000_000,
        duration: Math.max(1, Math.round(windowMs / 1000)),
        clearExpiredByTimeout: true,
        // Created by migration 0012: instances starting together must not race to create it.
        tableCreated: true,
      });
      limiters.set(windowMs, limiter);
    }
    return limiter;
  };

  return {
    async hit(key, windowMs) {
      try {
        const res = await limiterFor(windowMs).consume(storedKey(key), 1);
        return { count: res.consumedPoints, resetAt: Date.now() + res.msBeforeNext };
      } catch (err) {
        // Counting needs the database: without it the request is refused as "try again", not 500.
        throw isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
      }
    },
  };
}
