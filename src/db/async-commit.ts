import type { Dialect, Kysely } from 'kysely';
import { withDriver } from './driver-wrapper.ts';

const ASYNC_COMMIT = Symbol('async commit');

/**
 * Ties to `db` the handle for writes whose loss fails closed: on PostgreSQL a pool whose commits
 * return before the write-ahead log is flushed to disk (`synchronous_commit = off`). PostgreSQL
 * still applies such commits in order and makes them visible at once; what a crash of PostgreSQL
 * can cost is the last moments of them (up to three times `wal_writer_delay`, 600 ms by default),
 * never a later commit without an earlier one. Only a write whose absence is refused later belongs
 * on it: an issued access token, lost, is answered `invalid_token` and the client asks for another.
 * A write that takes something away (a consumption, a revocation, a sign-out) must not be lost,
 * and stays on `db`.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema; only the instance is marked
export function tieAsyncCommit<D extends Kysely<any>>(db: D, asyncCommit: D): D {
  Object.defineProperty(db, ASYNC_COMMIT, { value: asyncCommit });
  return db;
}

/**
 * The handle for writes that may commit without waiting for the flush (tieAsyncCommit), or `db`
 * itself where there is none: SQLite, whose commits in WAL mode with `synchronous = NORMAL` never
 * wait for one.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export function asyncCommitOf<D extends Kysely<any>>(db: D): D {
  return (db as unknown as { [ASYNC_COMMIT]?: D })[ASYNC_COMMIT] ?? db;
}

/**
 * `inner` whose driver, once destroyed, destroys `other` too: one `destroy()` closes both pools.
 * Only `destroy` changes, so queries pay for no wrapper.
 */
// biome-ignore lint/suspicious/noExplicitAny: any schema
export function closingAlso(inner: Dialect, other: Kysely<any>): Dialect {
  return withDriver(inner, (driver) => {
    const destroyOwn = driver.destroy.bind(driver);
    driver.destroy = async () => {
      await destroyOwn();
      await other.destroy();
    };
    return driver;
  });
}
