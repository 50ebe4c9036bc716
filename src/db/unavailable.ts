import type { Dialect } from 'kysely';
import { wrapDialect } from './driver-wrapper.ts';

/**
 * The database cannot be reached right now (PostgreSQL restarting, stopped, or out of
 * connections): the request is answered 503 and may be retried, never 500. Our error handler
 * answers it in each endpoint's format. oidc-provider's handlers read `expose`, `message` (the
 * OAuth error code), `error_description` and `statusCode` from what they catch: with these, its
 * endpoints answer RFC 6749's `temporarily_unavailable` with 503 instead of an opaque server_error.
 */
export class DatabaseUnavailableError extends Error {
  readonly status = 503;
  readonly statusCode = 503;
  readonly expose = true;
  readonly error = 'temporarily_unavailable';
  readonly error_description = 'The service is temporarily unavailable; try again in a moment';
  readonly allow_redirect = true;

  constructor(cause: unknown) {
    super('temporarily_unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

/** Socket-level failures reaching the server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/**
 * PostgreSQL SQLSTATEs that mean "not now" rather than "wrong query": class 08 (connection
 * exception), admin/crash shutdown and "starting up / shutting down" (57P01-57P03), too many
 * connections (53300).
 */
const UNAVAILABLE_STATES = /^(08...|57P0[123]|53300)$/;
/** What pg and pg-pool say when a connection ends under them or cannot be had in time. */
const CONNECTION_LOST =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection ended unexpectedly/i;

/** True when `err` says the database could not be reached, not that a query was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || UNAVAILABLE_STATES.test(e.code))) return true;
  if (typeof e.message === 'string' && CONNECTION_LOST.test(e.message)) return true;
  // A connection attempt to several addresses fails as an AggregateError of each attempt's error.
  return Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every(isDatabaseUnavailable);
}

const unavailableAs503 = (err: unknown): never => {
  throw isDatabaseUnavailable(err)
    ? err instanceof DatabaseUnavailableError
      ? err
      : new DatabaseUnavailableError(err)
    : err;
};

/** Wraps a dialect so that every failure to reach the database surfaces as DatabaseUnavailableError. */
export function reportingUnavailable(inner: Dialect): Dialect {
  return wrapDialect(inner, { mapError: unavailableAs503 });
}
