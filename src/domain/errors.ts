/**
 * What a service says when it refuses, in the service's own words: no HTTP status, no error body.
 * Each transport turns these into its own answer in one place (the JSON API: `toAppError` in
 * src/http/domain-errors.ts; the pages: their form adapter), so the same refusal reads the same
 * everywhere and a service never has to know who called it.
 */
export type DomainErrorCode =
  | 'unauthenticated'
  | 'not_found'
  | 'not_yours'
  | 'forbidden'
  | 'conflict'
  | 'validation'
  | 'too_many';

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  /** The input field the refusal is about (`redirect_uris.1`, `email`), when there is one. */
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
    this.name = new.target.name;
  }
}

/** The presented credential is not one we accept (unknown, revoked, expired). */
export class Unauthenticated extends DomainError {
  readonly code = 'unauthenticated';
  constructor() {
    super('Invalid or missing authentication credentials');
  }
}

/** `what` does not exist (said only to callers allowed to know: admin:all, or about their own things). */
export class NotFound extends DomainError {
  readonly code = 'not_found';
  constructor(readonly what = 'Resource') {
    super(`${what} not found`);
  }
}

/**
 * A resource that is not the caller's, or does not exist: the two are not told apart, so the
 * answer never says which ids exist. The API answers it as a refusal; pages show "not found".
 */
export class NotYours extends DomainError {
  readonly code = 'not_yours';
  constructor() {
    super('Insufficient permissions for this operation');
  }
}

/** The caller may not do this (a scope it lacks, a limit only admin:all may exceed...). */
export class Forbidden extends DomainError {
  readonly code = 'forbidden';
  constructor(message = 'Insufficient permissions for this operation') {
    super(message);
  }
}

/** The request clashes with the current state (a taken email, a key already rotated). */
export class Conflict extends DomainError {
  readonly code = 'conflict';
}

/** The input is not acceptable; `field` names what to fix when one field is to blame. */
export class ValidationError extends DomainError {
  readonly code = 'validation';
}

/** The caller asked for this too often (an action that costs the server work); `retryAfterS` says when to try. */
export class TooMany extends DomainError {
  readonly code = 'too_many';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}
