import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import type pg from 'pg';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, type MigrationResultSet } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from './schema.ts';
import { migrations } from './migrations/index.ts';
import { refusingNul } from './refuse-nul.ts';
import { reportingUnavailable } from './unavailable.ts';
import { withStatementCache } from './statement-cache.ts';
import { preparingClient } from './prepared-statements.ts';
import { tieConnection } from './sqlite-connection.ts';
import { loadPg } from './pg-driver.ts';
import { closingAlso, tieAsyncCommit } from './async-commit.ts';

export type DB = Kysely<Database>;

/**
 * Opens the configured database. SQLite (the embedded default): WAL, foreign keys on, a busy
 * timeout for writers. PostgreSQL (`postgres://...`): a connection pool, for several instances.
 */
export function openDatabase(config: Pick<Config, 'database'>, opts: { poolSize?: number } = {}): DB {
  const target = config.database;
  if (target.kind === 'postgres') {
    // Access tokens are written through a pool of their own whose commits skip the flush wait
    // (async-commit.ts); everything else waits for it.
    const asyncCommit = postgresDatabase(
      createPostgresPool(target.url, ASYNC_COMMIT_POOL_SIZE, { synchronousCommit: false }),
    );
    const pool = createPostgresPool(target.url, opts.poolSize ?? 10);
    return tieAsyncCommit(postgresDatabase(pool, asyncCommit), asyncCommit);
  }
  if (target.file !== ':memory:') createPrivately(target.file);
  const sqlite = new SQLite(target.file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL'); // durable across process crashes in WAL mode
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // better-sqlite3 builds SQLite with a 16 MiB page cache per connection. Lookups by key are random
  // reads: beyond the b-trees' upper levels the cache rarely hits, and the kernel's page cache holds
  // the file anyway. 4 MiB keeps those levels for a database of millions of rows.
  sqlite.pragma('cache_size = -4096');
  // Copy the write-ahead log back into the database every 10,000 pages (40 MiB) rather than
  // SQLite's 1,000. API-key activity from many distinct keys dirties a page or two per request, often
  // the same pages again within seconds; a longer log copies each such page back once instead of
  // several times: about a quarter fewer bytes written, in fewer and larger checkpoints.
  sqlite.pragma('wal_autocheckpoint = 10000');
  const db = new Kysely<Database>({
    dialect: refusingNul(new SqliteDialect({ database: withStatementCache(sqlite) })),
  });
  return tieConnection(db, sqlite);
}

/**
 * Connections for the writes that skip the flush wait. Concurrent requests' tokens go out as one
 * statement per turn of the event loop (group-commit.ts), so one or two are busy at a time even
 * under full load; the rest absorb a burst.
 */
const ASYNC_COMMIT_POOL_SIZE = 4;

/** Kysely on a pg pool: NUL refused, an unreachable server a 503; destroying it destroys `alsoClose`. */
function postgresDatabase(pool: pg.Pool, alsoClose?: DB): DB {
  const dialect = new PostgresDialect({ pool });
  return new Kysely<Database>({
    dialect: refusingNul(reportingUnavailable(alsoClose ? closingAlso(dialect, alsoClose) : dialect)),
  });
}

/**
 * The database holds password hashes, token digests and sealed secrets: its folder (when we create
 * it) is 0700 and the file 0600, like the secrets key file, whatever the umask. SQLite gives the
 * -wal and -shm files it creates later the mode of the database file. An existing file keeps the
 * mode its owner gave it.
 */
function createPrivately(file: string): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  try {
    // An empty file is a valid new SQLite database. fchmod: the create mode is narrowed by umask.
    const fd = fs.openSync(file, 'wx', 0o600);
    fs.fchmodSync(fd, 0o600);
    fs.closeSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * How long a pooled connection may sit idle before it is closed. Opening one costs far more than
 * keeping it: PostgreSQL forks and initialises a backend (about 23 ms of its CPU, measured on a
 * 2-core machine), the client authenticates with SCRAM (PBKDF2 with 4,096 rounds), and every
 * prepared statement is parsed again on the new connection. With pg's default of 10 s a pool
 * emptied itself in any pause of its load longer than that and paid all of it again when the load
 * came back. An idle connection costs PostgreSQL a sleeping backend; the pools are small (`max`).
 */
const IDLE_CONNECTION_MS = 5 * 60_000;

/**
 * A pg pool whose parameterised queries run as prepared statements (prepared-statements.ts), and
 * that survives PostgreSQL going away (a restart terminates every connection): a client
 * whose connection dies emits 'error' whether it is idle in the pool or checked out between two
 * queries, and an unheard 'error' event ends the process. The pool drops dead clients and opens new
 * ones on demand, so service resumes by itself once PostgreSQL is back.
 */
export function createPostgresPool(
  url: string,
  max: number,
  opts: {
    /**
     * false: the connections' commits return before PostgreSQL has flushed them to disk (its
     * `synchronous_commit = off`, set as a startup option; an `options` parameter in the URL
     * replaces it, and then they wait as every other commit does).
     */
    synchronousCommit?: boolean;
  } = {},
): pg.Pool {
  // No connection timeout: a stopped server refuses at once (a 503), while a busy one may take
  // seconds to accept a connection under load, and failing those requests would be worse.
  const driver = loadPg();
  const pool = new driver.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: IDLE_CONNECTION_MS,
    Client: preparingClient(driver),
    ...(opts.synchronousCommit === false ? { options: '-c synchronous_commit=off' } : {}),
  });
  pool.on('error', () => {}); // an idle client lost its connection: the pool has already dropped it
  pool.on('connect', (client) => client.on('error', () => {})); // the query in flight fails instead
  return pool;
}

/** True on PostgreSQL: a few queries differ (row locks with SKIP LOCKED, for instance). */
// biome-ignore lint/suspicious/noExplicitAny: any schema; only the dialect is read
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

const migratorOf = (db: DB) => new Migrator({ db, provider: { getMigrations: async () => migrations } });

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: DB): Promise<MigrationResultSet['results']> {
  const { error, results } = await migratorOf(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message}`);
  }
  return results;
}

/**
 * Migrates up (or down) to the named migration and answers Kysely's result set: for the tests that
 * put rows in a database as an earlier version left it and check what a migration does to them.
 */
export function migrateTo(db: DB, name: string): Promise<MigrationResultSet> {
  return migratorOf(db).migrateTo(name);
}
