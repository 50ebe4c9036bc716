import type { Middleware } from 'koa';
import type { ResourceServer } from '../domain/resource-servers.ts';
import { protectedResourceMetadata, withResourceMetadata } from '../features/apis/protected-resource.ts';
import type { AppContext, AppState } from './context.ts';

/**
 * The built-in API's protected resource metadata (RFC 9728), built from the API as it is at the
 * time of the request (its scopes).
 */
export function serveProtectedResourceMetadata(deps: { api: ResourceServer; issuer: string }): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = protectedResourceMetadata(deps.api, deps.issuer);
  };
}

/**
 * Every 401 of the API names where its metadata is (RFC 9728 §5.1), so a client holding no token
 * learns from the refusal which authorization server to ask and for which scopes. Run once the
 * refusal is answered: the challenge it extends is the one the refusal set.
 */
export function nameMetadataInChallenge(ctx: AppContext, metadataUrl: string): void {
  if (ctx.status === 401)
    ctx.set('WWW-Authenticate', withResourceMetadata(ctx.response.get('WWW-Authenticate'), metadataUrl));
}
