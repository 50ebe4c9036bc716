import type { Middleware } from 'koa';
import type { AppState } from '../../http/context.ts';
import type { Decision, Policy } from './decide.ts';
import { setRateLimitHeaders, type RateLimiter } from './rate-limiter.ts';

/**
 * Limits token requests before oidc-provider sees them (after authenticateClientOnce, whose
 * verdict it reads from `ctx.state.presentedClient`). A client that proves its secret is counted on its
 * own bucket; a registered public client (no secret) per client and address, so one user's
 * browser cannot spend another's; anything else (a wrong secret, an unknown client_id, a
 * confidential client's id without its secret) per address with the unauthenticated limit, so a
 * fresh client_id per request is never a fresh bucket and naming someone else's client_id never
 * spends that client's quota. Errors keep RFC 6749's shape.
 */
export function limitTokenRequests(deps: {
  limiter: RateLimiter;
  perClient: Policy;
  unauthenticated: Policy;
}): Middleware<AppState> {
  return (ctx, next) => {
    const client = ctx.state.presentedClient;
    let bucket = `token:ip:${ctx.ip}`;
    let policy = deps.unauthenticated;
    if (client?.id && client.secret) {
      if (client.checked?.matched) {
        bucket = `token:client:${client.id}`;
        policy = deps.perClient;
      }
    } else if (client?.isPublic) {
      bucket = `token:client:${client.id}:ip:${ctx.ip}`;
      policy = deps.perClient;
    }
    const answer = (decision: Decision) => {
      setRateLimitHeaders(ctx, decision, deps.limiter.now());
      if (decision.allowed) return next();
      ctx.status = 429;
      ctx.set('Retry-After', String(decision.retryAfter));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: 'rate_limited',
        error_description: `Too many token requests; retry after ${decision.retryAfter} s`,
      };
    };
    // The memory store counts at once: no promise (and no async step) unless a shared store answers.
    const decision = deps.limiter.count(bucket, policy);
    return decision instanceof Promise ? decision.then(answer) : answer(decision);
  };
}
