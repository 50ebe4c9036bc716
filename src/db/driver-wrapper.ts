import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  Kysely,
  QueryResult,
  TransactionSettings,
} from 'kysely';

/** What a wrapped dialect adds around its driver. */
export interface DriverHooks {
  /** Looks at each query before it is sent; throwing refuses it. */
  beforeQuery?(query: CompiledQuery): void;
  /** Turns a failure of a connection, a query or a transaction step into what callers should see. */
  mapError?(err: unknown): never;
}

/**
 * A dialect whose driver runs `hooks` around the inner driver: the one place that knows how
 * Kysely's driver interface is wrapped (checks on every query, errors mapped), so each concern
 * stays a small function.
 */
export function wrapDialect(inner: Dialect, hooks: DriverHooks): Dialect {
  return withDriver(inner, (driver) => wrapDriver(driver, hooks));
}

/** `inner` with its driver passed through `change` when Kysely creates it; the rest as it was. */
export function withDriver(inner: Dialect, change: (driver: Driver) => Driver): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    // biome-ignore lint/suspicious/noExplicitAny: the Dialect interface declares it so
    createIntrospector: (db: Kysely<any>) => inner.createIntrospector(db),
    createDriver: () => change(inner.createDriver()),
  };
}

function wrapDriver(driver: Driver, hooks: DriverHooks): Driver {
  const before = hooks.beforeQuery ?? (() => {});
  const mapped = <T>(p: Promise<T>): Promise<T> => (hooks.mapError ? p.catch(hooks.mapError) : p);
  // Kysely hands our wrapper back to the driver (transactions, release): map it to the original.
  const originals = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const wrappers = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const original = (c: DatabaseConnection) => originals.get(c) ?? c;

  function wrap(conn: DatabaseConnection): DatabaseConnection {
    let w = wrappers.get(conn);
    if (!w) {
      w = {
        executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
          before(query);
          return mapped(conn.executeQuery<R>(query));
        },
        streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
          before(query);
          return conn.streamQuery<R>(query, chunkSize);
        },
      };
      wrappers.set(conn, w);
      originals.set(w, conn);
    }
    return w;
  }

  return {
    init: () => driver.init(),
    acquireConnection: async () => wrap(await mapped(driver.acquireConnection())),
    beginTransaction: (c: DatabaseConnection, s: TransactionSettings) =>
      mapped(driver.beginTransaction(original(c), s)),
    commitTransaction: (c: DatabaseConnection) => mapped(driver.commitTransaction(original(c))),
    rollbackTransaction: (c: DatabaseConnection) => mapped(driver.rollbackTransaction(original(c))),
    releaseConnection: (c: DatabaseConnection) => driver.releaseConnection(original(c)),
    destroy: () => driver.destroy(),
    ...(driver.savepoint && {
      savepoint: (c, name, compile) => driver.savepoint!(original(c), name, compile),
      rollbackToSavepoint: (c, name, compile) => driver.rollbackToSavepoint!(original(c), name, compile),
      releaseSavepoint: (c, name, compile) => driver.releaseSavepoint!(original(c), name, compile),
    }),
  } satisfies Driver;
}
