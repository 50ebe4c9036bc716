import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './context.ts';

// Echo a caller's id only when it is short and plain, so it is safe in logs and headers.
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** First middleware: a request id on every response and every log line. */
export function requestId(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-ID');
    const id = WELL_FORMED.test(given) ? given : crypto.randomUUID();
    ctx.state.requestId = id;
    ctx.state.log = logger.child({ reqId: id });
    ctx.set('X-Request-ID', id);
    await next();
  };
}
