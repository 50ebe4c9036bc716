import type { Middleware } from 'koa';
import type { AppState } from '../http/context.ts';
import type { Principal } from '../domain/principal.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { looksLikeApiKey } from '../features/api-keys/key-format.ts';
import type { ApplicationsService } from '../features/applications/applications.service.ts';
import { readFormBody } from './json-body-shim.ts';
import { basicCredentials } from './client-auth.ts';

export interface UnifiedIntrospectionDeps {
  authenticator: Authenticator;
  applications: ApplicationsService;
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
 * tokens (which oidc-provider refuses to introspect) are answered here; opaque OAuth tokens go on to oidc-provider, whose answer gains
 * `method: "oauth"`. API keys and shared-secret JWTs belong to no client, so only `resource_server`
 * applications learn anything about them; everyone else gets `{"active":false}`.
 */
export function unifiedIntrospection(deps: UnifiedIntrospectionDeps): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/oauth/introspect') return next();
    const raw = await readFormBody(ctx);
    if (raw === null) return; // readFormBody answered (too large)
    const form = new URLSearchParams(raw);
    const token = form.get('token') ?? '';
    // oidc-provider's opaque tokens never contain dots; every JWT (shared-secret or RFC 9068) is ours.
    const ours = looksLikeApiKey(token) || token.split('.').length === 3;
    const basic = basicCredentials(ctx.get('Authorization'));
    // No client authentication at all is invalid_client (RFC 6749 §5.2) whatever the token, so the
    // answer does not tell an opaque token from an API key.
    if (!basic && !form.get('client_id')) {
      ctx.status = 401;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      return;
    }
    if (!ours) {
      await next();
      const answer = ctx.body as { active?: unknown; token_type?: unknown; scope?: unknown } | undefined;
      if (answer && typeof answer === 'object' && answer.active === true) {
        // oidc-provider knows an access token as issued; the answer says what it may do now, and
        // one whose application or account is gone is no longer active. (Refresh tokens, which
        // carry no token_type, stand or fall with their grant, which the provider checks.)
        const now = answer.token_type === undefined ? undefined : await currentPrincipal(deps.authenticator, token);
        if (now === null) ctx.body = { active: false };
        else {
          const body: Record<string, unknown> = { ...answer, method: 'oauth' };
          if (now && now.scopes.length) body['scope'] = now.scopes.join(' ');
          else if (now) delete body['scope'];
          ctx.body = body;
        }
      }
      return;
    }

    // Client authentication, as the provider would do it (basic or post).
    const clientId = basic?.id ?? form.get('client_id') ?? '';
    const secret = basic?.secret ?? form.get('client_secret') ?? '';
    const client = clientId && secret ? await deps.applications.authenticateClient(clientId, secret) : null;
    ctx.set('Cache-Control', 'no-store');
    if (!client) {
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
      (client.type === 'resource_server' || (principal.method === 'oauth' && principal.clientId === client.client_id));
    ctx.status = 200;
    ctx.body = visible ? rfc7662(principal!, allowedIps) : { active: false };
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
