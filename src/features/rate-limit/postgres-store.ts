import type pg from 'pg';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import type { RateLimitStore } from './store.ts';
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../../db/unavailable.ts';

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
        const res = await limiterFor(windowMs).consume(key, 1);
        return { count: res.consumedPoints, resetAt: Date.now() + res.msBeforeNext };
      } catch (err) {
        // Counting needs the database: without it the request is refused as "try again", not 500.
        throw isDatabaseUnavailable(err) ? new DatabaseUnavailableError(err) : err;
      }
    },
  };
}
