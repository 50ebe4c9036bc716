import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './context.ts';

// Echo a caller's id only when it is short and plain, so it is safe in logs and headers.
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * First middleware: a request id on every response and every log line. The request's logger (a
 * child carrying `reqId`) is made the first time something logs through it: with redaction set,
 * a pino child costs about 3 µs, and most requests never log anything but their access line
 * (which the access log writes with the id itself).
 */
export function requestId(logger: Logger): Middleware<AppState> {
  return (ctx, next) => {
    const given = ctx.get('X-Request-ID');
    const id = WELL_FORMED.test(given) ? given : crypto.randomUUID();
    ctx.state.requestId = id;
    let log: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (log ??= logger.child({ reqId: id })),
      enumerable: true,
      configurable: true,
    });
    ctx.set('X-Request-ID', id);
    return next();
  };
}
