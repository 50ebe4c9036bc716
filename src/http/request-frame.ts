import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { AppState } from './context.ts';
import { drainWhenAnswered } from './drain-body.ts';
import { RequestState, requestIdOf } from './request-id.ts';
import { hasReadableTarget, refuseUnreadableTarget } from './request-target.ts';

/**
 * What every request passes before the audience that answers it, as one step: a readable target
 * (else a plain 400), a request id for every log line (each audience puts it on its answer first:
 * see `answerRequestId`), and the rest of an unread body drained once the answer is sent. One
 * frame rather than a middleware each: every middleware is a promise and a frame per request.
 */
export function requestFrame(deps: { logger: Logger }): Middleware<AppState> {
  const { logger } = deps;
  return (ctx, next) => {
    if (!hasReadableTarget(ctx)) {
      refuseUnreadableTarget(ctx);
      return Promise.resolve();
    }
    const id = requestIdOf(ctx);
    ctx.state = new RequestState(id, logger) as unknown as AppState;
    drainWhenAnswered(ctx);
    return next();
  };
}
