import type { Middleware } from 'koa';
import type { AppState } from '../http/context.ts';
import type { Principal } from '../domain/principal.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { looksLikeApiKey } from '../features/api-keys/key-format.ts';
import { param } from './protocol-body.ts';

export interface UnifiedIntrospectionDeps {
  authenticator: Authenticator;
  /**
   * The `act` claim of an access token obtained by token exchange (RFC 8693 §4.1), or undefined.
   * Such a token stands on the person's grant to another application, which oidc-provider's own
   * introspection takes for a mismatch; it is answered here, as /v2 sees it, with its actor.
   */
  actOf?(token: string): Promise<Record<string, unknown> | undefined>;
}

/** `scope` is the effective one: what the credential may do now (a demoted admin's token lost admin:all). */
function rfc7662(c: Principal, allowedIps?: string[] | null): Record<string, unknown> {
  return {
    active: true,
    method: c.method,
    token_type: c.method === 'oauth' ? 'Bearer' : c.method,
    sub: c.subject,
    scope: c.scopes.join(' '),
    ...(c.clientId !== null ? { client_id: c.clientId } : {}),
    ...(c.expiresAt !== null ? { exp: Math.floor(c.expiresAt / 1000) } : {}),
    // The resource server enforces an API key's allowlist: it alone sees the caller's address.
    ...(allowedIps ? { allowed_ips: allowedIps } : {}),
  };
}

/**
 * One introspection for every credential (RFC 7662 plus `method`): a resource server posts
 * whatever its caller presented to /oauth/introspect. API keys, shared-secret JWTs and JWT access
 * tokens (which oidc-provider refuses to introspect) are answered here; opaque OAuth tokens go on
 * to oidc-provider, whose answer gains `method: "oauth"`. API keys and shared-secret JWTs belong
 * to no client, so only `resource_server` applications learn anything about them; everyone else
 * gets `{"active":false}`. Runs after authenticateClientOnce, whose verdict on the client it reads
 * from `ctx.state.presentedClient`.
 */
export function unifiedIntrospection(deps: UnifiedIntrospectionDeps): Middleware<AppState> {
  return async (ctx, next) => {
    const token = param(ctx.state.oauthParams, 'token') ?? '';
    // oidc-provider's opaque tokens never contain dots; every JWT (shared-secret or RFC 9068) is ours.
    const ours = looksLikeApiKey(token) || token.split('.').length === 3;
    const client = ctx.state.presentedClient;
    // No client authentication at all is invalid_client (RFC 6749 §5.2) whatever the token, so the
    // answer does not tell an opaque token from an API key.
    if (!client || (!client.viaBasic && !client.id)) {
      ctx.status = 401;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      return;
    }
    if (!ours) {
      await next();
      const act =
        ctx.status === 200 && (ctx.body as { active?: unknown })?.active === false && (await deps.actOf?.(token));
      if (act) {
        const principal = await currentPrincipal(deps.authenticator, token);
        const visible = principal && (client.type === 'resource_server' || principal.clientId === client.id);
        if (visible) ctx.body = { ...rfc7662(principal), act };
        return;
      }
      const answer = ctx.body as { active?: unknown; token_type?: unknown; scope?: unknown } | undefined;
      if (answer && typeof answer === 'object' && answer.active === true) {
        // oidc-provider knows an access token as issued; the answer says what it may do now, and
        // one whose application or account is gone is no longer active. (Refresh tokens, which
        // carry no token_type, stand or fall with their grant, which the provider checks.)
        const now = answer.token_type === undefined ? undefined : await currentPrincipal(deps.authenticator, token);
        if (now === null) ctx.body = { active: false };
        else {
          const body: Record<string, unknown> = { ...answer, method: 'oauth' };
          // The account itself, as for every other credential: oidc-provider would answer a
          // pairwise application's token with that application's pairwise `sub`.
          if (now && 'sub' in answer) body['sub'] = now.subject;
          if (now?.scopes.length) body['scope'] = now.scopes.join(' ');
          else if (now) delete body['scope'];
          ctx.body = body;
        }
      }
      return;
    }

    // Client authentication, as the provider would do it (basic or post).
    ctx.set('Cache-Control', 'no-store');
    if (!client.checked?.matched) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      return;
    }

    let principal: Principal | null = null;
    let allowedIps: string[] | null = null;
    try {
      if (looksLikeApiKey(token)) {
        ({ principal, allowedIps } = await deps.authenticator.inspectApiKey(token));
      } else {
        principal = await deps.authenticator.resolve(token, null);
      }
    } catch {
      principal = null;
    }
    const visible =
      principal !== null &&
      (client.type === 'resource_server' || (principal.method === 'oauth' && principal.clientId === client.id));
    ctx.status = 200;
    const act = visible && !looksLikeApiKey(token) ? await deps.actOf?.(token) : undefined;
    ctx.body = visible ? { ...rfc7662(principal!, allowedIps), ...(act ? { act } : {}) } : { active: false };
  };
}

/** The token's principal now, or null when it no longer stands (refused for any reason). */
async function currentPrincipal(authenticator: Authenticator, token: string): Promise<Principal | null> {
  try {
    return await authenticator.resolve(token, null);
  } catch {
    return null;
  }
}
