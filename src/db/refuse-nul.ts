import type { CompiledQuery, Dialect } from 'kysely';
import { wrapDialect } from './driver-wrapper.ts';
import { ValidationError } from '../domain/errors.ts';

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  // pg takes arrays as parameters (text[]); look one level in, no further (nothing nests deeper).
  if (Array.isArray(value) && depth === 0) return value.some((v) => hasNul(v, 1));
  return false;
}

function refuseNul(query: CompiledQuery): void {
  // Values reach SQL as bound parameters; the text itself only ever comes from our code.
  if (query.sql.includes('\u0000')) throw nulRefused();
  refuseNulIn(query.parameters);
}

const nulRefused = () => new ValidationError('Text may not contain the NUL character (U+0000)');

/** The same check for values bound to a statement that does not go through Kysely (prepared.ts). */
export function refuseNulIn(parameters: readonly unknown[]): void {
  if (parameters.some((p) => hasNul(p))) throw nulRefused();
}

/**
 * Refuses any query that carries a string with a NUL character (U+0000), on every backend, as a
 * 400 VALIDATION_FAILED. PostgreSQL cannot store NUL in text at all (the query would fail: a 500),
 * SQLite stores it and tools that read C strings later cut the value short; no field Latchkey
 * keeps has a use for it. Input from anywhere (a path parameter, a form field, a JSON member, an
 * OAuth parameter) meets this one check before it reaches SQL.
 *
 * It looks at the compiled query's flat parameter list, in the driver, rather than walking every
 * query's operation tree in a Kysely plugin: the tree walk cost ~10-20 µs per query (bench profile).
 */
export function refusingNul(inner: Dialect): Dialect {
  return wrapDialect(inner, { beforeQuery: refuseNul });
}
