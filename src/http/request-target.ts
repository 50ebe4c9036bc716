import type { Middleware } from 'koa';
import type { AppState } from './context.ts';

/**
 * Refuses a request whose target Node's URL parser cannot read (`GET http://[bad/ HTTP/1.1`), before
 * anything asks for `ctx.path`: that getter throws, and a throw ahead of the error handler became a
 * bare 500. The answer matches Node's own for malformed HTTP: a plain 400.
 */
export function requireReadableTarget(): Middleware<AppState> {
  return (ctx, next) => {
    try {
      void ctx.path;
    } catch {
      ctx.status = 400;
      ctx.type = 'text/plain';
      ctx.body = 'Bad Request: the request target is not a valid URL';
      return Promise.resolve();
    }
    return next();
  };
}
