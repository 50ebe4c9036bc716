import type { Middleware } from 'koa';
import type { AppState } from '../../http/context.ts';
import { readFormBody } from '../../oidc/json-body-shim.ts';
import { basicCredentials } from '../../oidc/client-auth.ts';
import type { ApplicationsService } from '../applications/applications.service.ts';
import type { Policy } from './decide.ts';
import { setRateLimitHeaders, type RateLimiter } from './rate-limiter.ts';

/**
 * Limits POST /oauth/token before oidc-provider sees it. A client that proves its secret is
 * counted on its own bucket; a registered public client (no secret) per client and address, so
 * one user's browser cannot spend another's; anything else (a wrong secret, an unknown client_id,
 * a confidential client's id without its secret) per address with the unauthenticated limit, so
 * a fresh client_id per request is never a fresh bucket and naming someone else's client_id never
 * spends that client's quota. Errors keep RFC 6749's shape.
 */
export function tokenEndpointLimit(deps: {
  limiter: RateLimiter;
  applications: ApplicationsService;
  perClient: Policy;
  unauthenticated: Policy;
}): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/oauth/token') return next();
    const raw = await readFormBody(ctx);
    if (raw === null) return;
    const form = new URLSearchParams(raw);
    const basic = basicCredentials(ctx.get('Authorization'));
    const clientId = basic?.id ?? form.get('client_id') ?? '';
    const secret = basic?.secret ?? form.get('client_secret');

    let bucket = `token:ip:${ctx.ip}`;
    let policy = deps.unauthenticated;
    if (clientId && secret) {
      if (await deps.applications.authenticateClient(clientId, secret)) {
        bucket = `token:client:${clientId}`;
        policy = deps.perClient;
      }
    } else if (clientId && (await isPublicClient(deps.applications, clientId))) {
      bucket = `token:client:${clientId}:ip:${ctx.ip}`;
      policy = deps.perClient;
    }
    const decision = await deps.limiter.check(bucket, policy);
    setRateLimitHeaders(ctx, decision, deps.limiter.now());
    if (!decision.allowed) {
      ctx.status = 429;
      ctx.set('Retry-After', String(decision.retryAfter));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: 'rate_limited',
        error_description: `Too many token requests; retry after ${decision.retryAfter} s`,
      };
      return;
    }
    await next();
  };
}

/** A registered client that authenticates with no secret (PKCE protects its codes instead). */
async function isPublicClient(applications: ApplicationsService, clientId: string): Promise<boolean> {
  return (await applications.clientMetadata(clientId))?.['token_endpoint_auth_method'] === 'none';
}
