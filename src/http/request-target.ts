import type { AppContext } from './context.ts';

/**
 * Whether Node's URL parser can read the request target (`GET http://[bad/ HTTP/1.1` it cannot).
 * Asked before anything reads `ctx.path`: that getter throws, and a throw ahead of the error
 * handler became a bare 500.
 */
export function hasReadableTarget(ctx: AppContext): boolean {
  try {
    void ctx.path;
    return true;
  } catch {
    return false;
  }
}

/** The answer to an unreadable target, as Node's own for malformed HTTP: a plain 400. */
export function refuseUnreadableTarget(ctx: AppContext): void {
  ctx.status = 400;
  ctx.type = 'text/plain';
  ctx.body = 'Bad Request: the request target is not a valid URL';
}
