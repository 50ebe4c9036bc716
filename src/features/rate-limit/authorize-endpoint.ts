import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Policy } from './decide.ts';
import { setRateLimitHeaders, type RateLimiter } from './rate-limiter.ts';

/**
 * Limits authorization requests per address before oidc-provider sees them: each one it accepts
 * stores an interaction for an hour, so an anonymous flood would otherwise fill the database. Only
 * the request that starts a flow counts (mounted on `/oauth/authorize` itself, not on the resume
 * after sign-in and consent). A browser endpoint: the refusal is our error page.
 */
export function limitAuthorizeRequests(deps: {
  limiter: RateLimiter;
  policy: Policy;
  renderError(ctx: AppContext, status: number, title: string, message: string): void;
}): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'POST') return next();
    const decision = await deps.limiter.check(`authorize:ip:${ctx.ip}`, deps.policy);
    setRateLimitHeaders(ctx, decision, deps.limiter.now());
    if (!decision.allowed) {
      ctx.set('Retry-After', String(decision.retryAfter));
      deps.renderError(
        ctx,
        429,
        'Too many sign-in attempts',
        `Too many sign-in requests from your network. Try again in ${decision.retryAfter} seconds.`,
      );
      return;
    }
    await next();
  };
}
