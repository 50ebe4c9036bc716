import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppContext, AppState } from './context.ts';
import { afterStep } from './step.ts';

/** Also told of every finished request (metrics), from the same measurement. */
export type RequestObserver = (ctx: AppContext, status: number, seconds: number) => void;

/**
 * One line per request when it completes: method, path (never the query string, which can carry
 * codes and tokens), status, duration and the request id. Never headers or bodies. Placed before
 * the error handler, so the status is the one sent. Each audience mounts its own: `quiet` ones
 * (probes and scrapes, every few seconds) log at debug. The line is written as the request's own
 * logger would write it (the same fields in the same order), through a child that skips the
 * redaction pass: none of its fields is one that redaction names, and that pass was most of the
 * line's cost (about 10 of 11 µs). Nothing is built when the level is off. It calls the
 * audience's app itself (one frame, not a composition of two), and makes no promise of its own
 * when the app answered at once (step.ts).
 */
export function accessLog(
  logger: Logger,
  app: Middleware<AppState>,
  observe?: RequestObserver,
  opts: { quiet?: boolean } = {},
): Middleware<AppState> {
  const lines = logger.child({}, { redact: [] });
  /** The line and the observation of a finished request. */
  const finished = (ctx: AppContext, status: number, started: number): void => {
    const elapsed = performance.now() - started;
    observe?.(ctx, status, elapsed / 1000);
    const level = opts.quiet ? 'debug' : status >= 500 ? 'warn' : 'info';
    if (lines.isLevelEnabled(level)) {
      const line = {
        reqId: ctx.state.requestId,
        method: ctx.method,
        path: ctx.path.slice(0, 300),
        status,
        ms: Math.round(elapsed * 10) / 10,
      };
      lines[level](line, 'request');
    }
  };
  // An error escaping the audience's error handling becomes Koa's 500.
  return (ctx, next) => {
    const started = performance.now();
    let answering: unknown;
    try {
      answering = app(ctx, next);
    } catch (err) {
      finished(ctx, 500, started);
      throw err;
    }
    return afterStep(
      answering,
      () => finished(ctx, ctx.status, started),
      (err) => {
        finished(ctx, 500, started);
        throw err;
      },
    );
  };
}
