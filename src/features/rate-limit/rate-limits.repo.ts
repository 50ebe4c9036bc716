import type pg from 'pg';

/** A count to add to one row of `rate_limits`, and how long a window it opens when it starts one. */
export interface CountToAdd {
  key: string;
  points: number;
  windowMs: number;
}

export interface CountedRow {
  points: number;
  /** Epoch ms when the row's window ends. */
  expire: number;
}

/**
 * Adds every count in one statement: a key's row starts a new window (its count, now + window)
 * once the old one has ended, else grows. Rows are written in key order, so two instances adding
 * overlapping batches take their row locks in the same order and never deadlock. A key appears at
 * most once per statement (PostgreSQL refuses to update one row twice in one INSERT … ON CONFLICT).
 */
const ADD_COUNTS = `
INSERT INTO rate_limits (key, points, expire)
SELECT key, points, $4::bigint + window_ms
FROM unnest($1::varchar[], $2::int[], $3::bigint[]) AS counted (key, points, window_ms)
ORDER BY key
ON CONFLICT (key) DO UPDATE SET
  points = CASE WHEN rate_limits.expire <= $4 THEN EXCLUDED.points ELSE rate_limits.points + EXCLUDED.points END,
  expire = CASE WHEN rate_limits.expire <= $4 THEN EXCLUDED.expire ELSE rate_limits.expire END
RETURNING key, points, expire`;

/**
 * The shared rate-limit counters on PostgreSQL (table `rate_limits`, migration 0012, in
 * rate-limiter-flexible's layout: `key`, `points`, `expire` in epoch ms). Its own pool, so counting
 * never waits behind the application's queries.
 */
export function createRateLimitsRepo(pool: pg.Pool) {
  return {
    /** One round trip for the whole batch; each key's row after the addition. */
    async add(counts: CountToAdd[], now: number): Promise<Map<string, CountedRow>> {
      const { rows } = await pool.query<{ key: string; points: number; expire: number }>({
        // Named: prepared once per connection, then only bound and run.
        name: 'latchkey-rate-limits-add',
        text: ADD_COUNTS,
        values: [counts.map((c) => c.key), counts.map((c) => c.points), counts.map((c) => c.windowMs), now],
      });
      return new Map(rows.map((r) => [r.key, { points: r.points, expire: Number(r.expire) }]));
    },

    /** Drops rows whose window ended before `before` (they would only start again from zero). */
    async deleteEndedBefore(before: number): Promise<void> {
      await pool.query('DELETE FROM rate_limits WHERE expire < $1', [before]);
    },
  };
}
export type RateLimitsRepo = ReturnType<typeof createRateLimitsRepo>;
