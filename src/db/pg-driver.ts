import { createRequire } from 'node:module';
import type Pg from 'pg';

const require = createRequire(import.meta.url);

/**
 * node-postgres, loaded when a PostgreSQL connection is first made rather than at start: a server
 * on SQLite (the default) never needs it, and it brings ~110 KB of JavaScript (the driver, its wire
 * protocol and type parsers) that would stay in the heap for nothing. It is CommonJS, so it loads
 * synchronously here and the pool can be built where the configuration is read. Node caches the
 * module: every call answers the same object.
 */
export function loadPg(): typeof Pg {
  const pg = require('pg') as typeof Pg;
  // bigint columns hold epoch milliseconds, well inside Number's exact range: read them as numbers
  // (pg returns int8 as strings by default). Setting the same parser again is harmless.
  pg.types.setTypeParser(pg.types.builtins.INT8, toNumber);
  return pg;
}

const toNumber = (v: string) => Number(v);
