import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { refuseNulIn } from './refuse-nul.ts';
import { sqliteConnectionOf } from './sqlite-connection.ts';

/** Stands in for a parameter while the query is compiled (the text cannot come from a caller). */
const placeholder = (name: string) => `\u0000latchkey-param:${name}\u0000`;

/**
 * A query that Kysely builds and compiles once, run afterwards with new values. Kysely builds a
 * fresh operation tree and compiles it to SQL on every execution, which on a hot path costs more
 * than the query itself (a primary-key lookup: 17 µs through the builder, 8 µs compiled; SQLite's
 * statement is already kept by statement-cache.ts). The query is built once with a placeholder
 * for each named value, the placeholders are found among the compiled parameters, and each run
 * puts the values in their places: the same SQL text, the same dialect, the same driver (and its
 * checks) as the builder's.
 *
 * `build` must pass each value as a value (never in an identifier or a `sql.raw`), and a value that
 * changes the query's shape (null in `is null`, a list of varying length) cannot be a parameter.
 */
export function preparedQuery<Params extends Record<string, unknown>, Row>(
  // biome-ignore lint/suspicious/noExplicitAny: any schema; the builder carries the types
  db: Kysely<any>,
  names: ReadonlyArray<keyof Params & string>,
  build: (params: Params) => Compilable<Row>,
): (params: Params) => Promise<QueryResult<Row>> {
  return runOn(db, compileOnce(names, build));
}

/** Runs a query compiled once through Kysely's executor, with a run's values in their places. */
function runOn<Params extends Record<string, unknown>, Row>(
  // biome-ignore lint/suspicious/noExplicitAny: any schema; the builder carries the types
  db: Kysely<any>,
  { sql, valuesOf }: Compiled<Params>,
): (params: Params) => Promise<QueryResult<Row>> {
  return (params) => db.executeQuery<Row>(CompiledQuery.raw(sql, valuesOf(params)));
}

interface Compiled<Params> {
  sql: string;
  valuesOf(params: Params): unknown[];
}

/** Builds and compiles the query once with placeholders; `valuesOf` puts a run's values in their places. */
function compileOnce<Params extends Record<string, unknown>, Row>(
  names: ReadonlyArray<keyof Params & string>,
  build: (params: Params) => Compilable<Row>,
): Compiled<Params> {
  const compiled = build(Object.fromEntries(names.map((name) => [name, placeholder(name)])) as Params).compile();
  const byPlaceholder = new Map(names.map((name) => [placeholder(name), name]));
  const slots = compiled.parameters.map((value) => (typeof value === 'string' ? byPlaceholder.get(value) : undefined));
  for (const name of names) {
    if (!slots.includes(name)) throw new Error(`preparedQuery: ${name} is not a parameter of ${compiled.sql}`);
  }
  const fixed = compiled.parameters;
  return {
    sql: compiled.sql,
    valuesOf: (params) => slots.map((name, i) => (name === undefined ? fixed[i] : params[name])),
  };
}

/** What `PreparedRead.now` answers when the read has to be run (and waited for). */
export const MUST_WAIT: unique symbol = Symbol('must wait');

/** A read compiled once (`preparedQuery`) that can also answer without waiting where it may. */
export interface PreparedRead<Params, Row> {
  (params: Params): Promise<QueryResult<Row>>;
  /**
   * The rows at once, from SQLite's connection when no transaction is open on it; else
   * MUST_WAIT (PostgreSQL, or a transaction under way: its writes are not committed, and a read
   * now would see them, so the read waits for its turn as every query through Kysely does).
   */
  now(params: Params): Row[] | typeof MUST_WAIT;
}

/**
 * `preparedQuery` for a read on a hot path, with `now`: on SQLite the same statement runs
 * synchronously, without Kysely's chain of promises (its connection mutex, driver and executor:
 * about as much CPU again as the primary-key lookup itself), and with the same NUL check.
 */
export function preparedRead<Params extends Record<string, unknown>, Row>(
  // biome-ignore lint/suspicious/noExplicitAny: any schema; the builder carries the types
  db: Kysely<any>,
  names: ReadonlyArray<keyof Params & string>,
  build: (params: Params) => Compilable<Row>,
): PreparedRead<Params, Row> {
  const compiled = compileOnce(names, build);
  const { sql, valuesOf } = compiled;
  const run = runOn<Params, Row>(db, compiled);
  const sqlite = sqliteConnectionOf(db);
  if (!sqlite) return Object.assign(run, { now: (): typeof MUST_WAIT => MUST_WAIT });
  // Prepared on first use: a repository is made before the migrations have made its tables.
  let statement: ReturnType<typeof sqlite.prepare> | undefined;
  return Object.assign(run, {
    now(params: Params): Row[] | typeof MUST_WAIT {
      if (sqlite.inTransaction) return MUST_WAIT;
      const values = valuesOf(params);
      refuseNulIn(values);
      statement ??= sqlite.prepare(sql);
      return statement.all(values) as Row[];
    },
  });
}

/**
 * A statement over `size` rows (a multi-row insert), built and compiled once like preparedQuery,
 * run with the rows themselves: each parameter is taken from its row and column, with no object
 * of named values made per run. `build` gets `size` rows of stand-ins and must pass each column
 * as a value, as for preparedQuery.
 */
export function preparedRows<Row extends object, Result>(
  // biome-ignore lint/suspicious/noExplicitAny: any schema; the builder callback is typed by the caller
  db: Kysely<any>,
  columns: ReadonlyArray<keyof Row & string>,
  size: number,
  build: (rows: Row[]) => Compilable<Result>,
): (rows: ReadonlyArray<Row>) => Promise<QueryResult<Result>> {
  const standIns = Array.from(
    { length: size },
    (_, i) => Object.fromEntries(columns.map((column) => [column, placeholder(`${i}.${column}`)])) as Row,
  );
  const compiled = build(standIns).compile();
  const byPlaceholder = new Map(
    standIns.flatMap((_, i) => columns.map((column) => [placeholder(`${i}.${column}`), { i, column }] as const)),
  );
  const slots = compiled.parameters.map((value) => (typeof value === 'string' ? byPlaceholder.get(value) : undefined));
  if (new Set(slots.filter(Boolean)).size !== byPlaceholder.size) {
    throw new Error(`preparedRows: not every row's columns are parameters of ${compiled.sql}`);
  }
  const fixed = compiled.parameters;
  return (rows) => {
    if (rows.length !== size) throw new Error(`preparedRows: ${rows.length} rows for a statement of ${size}`);
    return db.executeQuery<Result>(
      CompiledQuery.raw(
        compiled.sql,
        slots.map((slot, k) => (slot === undefined ? fixed[k] : rows[slot.i]![slot.column as keyof Row])),
      ),
    );
  };
}
