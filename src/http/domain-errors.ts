import { DomainError, TooMany } from '../domain/errors.ts';
import { AppError, invalidToken, type ErrorCode } from './errors.ts';

/** The JSON error code of each domain refusal (statuses follow from the code, see AppError). */
const CODES: Record<DomainError['code'], ErrorCode> = {
  unauthenticated: 'UNAUTHORIZED',
  not_found: 'NOT_FOUND',
  not_yours: 'FORBIDDEN',
  forbidden: 'FORBIDDEN',
  conflict: 'CONFLICT',
  validation: 'VALIDATION_FAILED',
  too_many: 'RATE_LIMITED',
};

/**
 * The one place a service's refusal becomes the JSON error model: same code, message and `field`
 * as the body always had. An AppError passes through; anything else is not ours to describe
 * (undefined: the caller decides, usually a 500).
 */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (!(err instanceof DomainError)) return undefined;
  // A rejected credential says why in WWW-Authenticate (RFC 6750 §3), as every other 401 of ours.
  if (err.code === 'unauthenticated') return invalidToken();
  if (err instanceof TooMany) {
    return new AppError('RATE_LIMITED', err.message, undefined, { 'Retry-After': String(err.retryAfterS) });
  }
  return new AppError(CODES[err.code], err.message, err.field ? { field: err.field } : undefined);
}
