/**
 * The error model of Latchkey's own JSON APIs (/v2, /oauth/applications):
 * `{"error":{"code":"UNAUTHORIZED","message":"..."}}`. OAuth endpoints answer in RFC 6749's format
 * instead (oidc-provider does that); HTML pages render a friendly page.
 */
export type ErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'VALIDATION_FAILED'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INTERNAL'
  | 'SERVICE_UNAVAILABLE';

const STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  VALIDATION_FAILED: 400,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the body, e.g. `field` for validation errors. */
    readonly details?: Record<string, unknown>,
    /** Extra response headers, e.g. WWW-Authenticate. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.status = STATUS[code];
  }

  toBody(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** RFC 6750 §3: a presented token that is not valid (or a malformed header) says why, in the header. */
export const invalidToken = (error: 'invalid_token' | 'invalid_request' | null = 'invalid_token') =>
  new AppError('UNAUTHORIZED', 'Invalid or missing authentication credentials', undefined, {
    'WWW-Authenticate': error ? `Bearer error="${error}"` : 'Bearer',
  });
export const forbidden = (message = 'Insufficient permissions for this operation') =>
  new AppError('FORBIDDEN', message);
/**
 * A resource that is not the caller's, or does not exist (the two are not told apart): the documented
 * 403 body. Its own class so pages can show it as "not found" instead.
 */
export class NotYours extends AppError {
  constructor() {
    super('FORBIDDEN', 'Insufficient permissions for this operation');
  }
}
export const notFound = (what = 'Resource') => new AppError('NOT_FOUND', `${what} not found`);
export const validationFailed = (message: string, field?: string) =>
  new AppError('VALIDATION_FAILED', message, field ? { field } : undefined);
