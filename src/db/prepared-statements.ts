import type pg from 'pg';

/**
 * How many distinct statement texts one pool names. The hot paths use a few dozen; a text that
 * varies (an IN list of varying length) would otherwise add a prepared statement per variant to
 * every connection. Texts past the limit run unnamed, as before.
 */
const MAX_NAMED_TEXTS = 200;

/** PostgreSQL's answer when a table changed under a prepared `SELECT *` (a migration by another instance). */
const STALE_PLAN = '0A000';

/**
 * A pg Client class whose parameterised queries (every Kysely query with a parameter) run as named
 * prepared statements: PostgreSQL parses and plans each text once per connection, then only binds
 * and runs it, and node-postgres skips the Parse message. The names are shared by the pool's
 * connections (one text, one name). A statement PostgreSQL reports stale (its table's columns
 * changed) runs unnamed on that connection from then on.
 */
export function preparingClient(driver: typeof pg): typeof pg.Client {
  const names = new Map<string, string>();
  const nameFor = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED_TEXTS) {
      name = `lk${names.size}`;
      names.set(text, name);
    }
    return name;
  };

  class PreparingClient extends driver.Client {
    readonly #stale = new Set<string>();

    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads; only (text, values) is rewritten
    override query(config: any, values?: any, callback?: any): any {
      const name =
        typeof config === 'string' && Array.isArray(values) && values.length > 0 && !callback && nameFor(config);
      if (!name || this.#stale.has(name)) return super.query(config, values, callback);
      return (super.query({ name, text: config, values }) as Promise<pg.QueryResult>).catch(
        (err: { code?: string }) => {
          if (err?.code !== STALE_PLAN) throw err;
          this.#stale.add(name);
          return super.query(config, values);
        },
      );
    }
  }
  return PreparingClient;
}
