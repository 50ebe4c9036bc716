import type { Middleware } from 'koa';
import type { AppContext, AppState } from './context.ts';

/** Also told of every finished request (metrics), from the same measurement. */
export type RequestObserver = (ctx: AppContext, status: number, seconds: number) => void;

/**
 * One line per request when it completes: method, path (never the query string, which can carry
 * codes and tokens), status and duration; the request id comes from the request's child logger.
 * Never headers or bodies. Placed before the error handler, so the status is the one sent. Each
 * audience mounts its own: `quiet` ones (probes and scrapes, every few seconds) log at debug.
 */
export function accessLog(observe?: RequestObserver, opts: { quiet?: boolean } = {}): Middleware<AppState> {
  return async (ctx, next) => {
    const started = performance.now();
    let status = 500; // an error escaping the error handler becomes Koa's 500
    try {
      await next();
      status = ctx.status;
    } finally {
      const elapsed = performance.now() - started;
      observe?.(ctx, status, elapsed / 1000);
      const line = { method: ctx.method, path: ctx.path.slice(0, 300), status, ms: Math.round(elapsed * 10) / 10 };
      const log = ctx.state.log;
      if (opts.quiet) log.debug(line, 'request');
      else if (status >= 500) log.warn(line, 'request');
      else log.info(line, 'request');
    }
  };
}
