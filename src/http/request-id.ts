import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppContext, AppState } from './context.ts';

// Echo a caller's id only when it is short and plain, so it is safe in logs and headers.
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-ID when it is well formed, else a fresh UUID. */
export function requestIdOf(ctx: AppContext): string {
  const given = ctx.req.headers['x-request-id'];
  return typeof given === 'string' && WELL_FORMED.test(given) ? given : crypto.randomUUID();
}

/**
 * What the request frame puts on `ctx.state` before any audience runs: the request id, and the
 * request's logger (a child carrying `reqId`), made the first time something logs through it:
 * with redaction set, a pino child costs about 3 µs, and most requests never log anything but
 * their access line (which the access log writes with the id itself). A class, so the lazy
 * logger is a getter on its prototype rather than a property defined on every request's state.
 */
export class RequestState {
  #log: Logger | undefined;
  readonly #logger: Logger;
  requestId: string;

  constructor(requestId: string, logger: Logger) {
    this.requestId = requestId;
    this.#logger = logger;
  }

  get log(): Logger {
    this.#log ??= this.#logger.child({ reqId: this.requestId });
    return this.#log;
  }
}

/**
 * An audience's app with the request id as the first field of its answer. An audience that writes
 * its answer's head in one step (`/v2`, the protocol endpoints of `/oauth`: see answer-head.ts)
 * puts the id there itself instead, as Node takes a head in one step only when no field was set
 * before it.
 */
export function answerRequestId(app: Middleware<AppState>): Middleware<AppState> {
  return (ctx, next) => {
    ctx.res.setHeader('X-Request-ID', ctx.state.requestId);
    return app(ctx, next);
  };
}
