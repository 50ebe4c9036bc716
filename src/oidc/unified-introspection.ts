import type { Middleware } from 'koa';
import type { AppContext, AppState, PresentedClient } from '../http/context.ts';
import type { Principal } from '../domain/principal.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { looksLikeApiKey } from '../features/api-keys/key-format.ts';
import { param } from './protocol-body.ts';
import type { Credential } from '../domain/credential.ts';
import type { ResourceServer } from '../domain/resource-servers.ts';

export interface UnifiedIntrospectionDeps {
  authenticator: Authenticator;
  /**
   * The `act` claim of an access token obtained by token exchange (RFC 8693 §4.1), or undefined.
   * Such a token stands on the person's grant to another application, which oidc-provider's own
   * introspection takes for a mismatch; it is answered here, as /v2 sees it, with its actor.
   */
  actOf?(token: string): Promise<Record<string, unknown> | undefined>;
  /** Tokens of registered APIs (not the built-in /v2 API), checked for one API each. */
  apiTokens?: ApiTokens;
  /**
   * oidc-provider's own answer for an opaque token, given without passing the request through it
   * (provider-introspection.ts); false when it left the request to oidc-provider.
   */
  answerAsProvider?(ctx: AppContext, client: PresentedClient): Promise<boolean>;
}

/** What introspection needs to answer for the tokens of registered APIs. */
export interface ApiTokens {
  /** The built-in API's identifier (its tokens are answered as before). */
  builtIn: string;
  /** The API this identifier names now (undefined: deleted, or never registered). */
  find(identifier: string): Promise<ResourceServer | undefined>;
  /** The token's credential when it is a live access token for exactly this API, else null. */
  verify(token: string, identifier: string): Promise<Credential | null>;
}

/**
 * RFC 7662 for an access token of a registered API: active only while the token is for this API
 * (its audience) and the API exists, with the scopes the API still has (a scope the API dropped is
 * dropped from its tokens too). API keys and shared-secret JWTs are for the built-in API alone.
 */
async function introspectForApi(tokens: ApiTokens, token: string, identifier: string) {
  if (looksLikeApiKey(token)) return { active: false };
  const api = await tokens.find(identifier);
  const credential = api && (await tokens.verify(token, identifier));
  if (!api || !credential) return { active: false };
  const own = new Set(api.scopes.map((s) => s.name));
  const scopes = credential.scopes.filter((s) => own.has(s));
  return {
    active: true,
    method: 'oauth',
    // A DPoP-bound token says so and names its key, or the API would take it as a bearer token.
    token_type: credential.dpopJkt ? 'DPoP' : 'Bearer',
    ...(credential.dpopJkt ? { cnf: { jkt: credential.dpopJkt } } : {}),
    sub: credential.subject,
    ...(scopes.length ? { scope: scopes.join(' ') } : {}),
    ...(credential.clientId ? { client_id: credential.clientId } : {}),
    ...(credential.expiresAt !== null ? { exp: Math.floor(credential.expiresAt / 1000) } : {}),
    aud: identifier,
  };
}

/**
 * `scope` is the effective one: what the credential may do now (a demoted admin's token lost
 * admin:all). A DPoP-bound token says so, and names its key (RFC 9449 §6.2), for the resource
 * server to check the caller's proof against.
 */
function rfc7662(c: Principal, allowedIps?: string[] | null, dpopJkt?: string | null): Record<string, unknown> {
  return {
    active: true,
    method: c.method,
    token_type: c.method === 'oauth' ? (dpopJkt ? 'DPoP' : 'Bearer') : c.method,
    ...(dpopJkt ? { cnf: { jkt: dpopJkt } } : {}),
    sub: c.subject,
    scope: c.scopes.join(' '),
    ...(c.clientId !== null ? { client_id: c.clientId } : {}),
    ...(c.expiresAt !== null ? { exp: Math.floor(c.expiresAt / 1000) } : {}),
    // The resource server enforces an API key's allowlist: it alone sees the caller's address.
    ...(allowedIps ? { allowed_ips: allowedIps } : {}),
  };
}

/** RFC 6749 §5.2: the client did not authenticate (whatever the token, so nothing is told of it). */
function refuseClient(ctx: { status: number; body: unknown; set(name: string, value: string): void }): void {
  ctx.status = 401;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
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
    if (!client || (!client.viaBasic && !client.id)) return refuseClient(ctx);
    // A registered API's resource server learns of that API's tokens only.
    const tokens = deps.apiTokens;
    const ownApi = client.api;
    if (tokens && ownApi) {
      if (!client.checked?.matched) return refuseClient(ctx);
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 200;
      const described = await introspectForApi(tokens, token, ownApi);
      // An exchanged token names its actor (RFC 8693 §4.1).
      const act = described.active ? await deps.actOf?.(token) : undefined;
      ctx.body = act ? { ...described, act } : described;
      return;
    }
    if (!ours) {
      if (!(await deps.answerAsProvider?.(ctx, client))) await next();
      const act =
        ctx.status === 200 && (ctx.body as { active?: unknown })?.active === false && (await deps.actOf?.(token));
      if (act) {
        const principal = await currentPrincipal(deps.authenticator, token);
        const visible = principal && (client.type === 'resource_server' || principal.clientId === client.id);
        if (visible) ctx.body = { ...rfc7662(principal), act };
        return;
      }
      const answer = ctx.body as { active?: unknown; token_type?: unknown; scope?: unknown; aud?: unknown } | undefined;
      const audience = typeof answer?.aud === 'string' ? answer.aud : undefined;
      if (tokens && answer?.active === true && audience !== undefined && audience !== tokens.builtIn) {
        // An application's own token for a registered API (the provider checked it may ask); an
        // exchanged token keeps its actor (RFC 8693 §4.1).
        const described = await introspectForApi(tokens, token, audience);
        const act = (answer as { act?: unknown }).act;
        ctx.body = described.active && act ? { ...described, act } : described;
      } else if (answer && typeof answer === 'object' && answer.active === true) {
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
    if (!client.checked?.matched) return refuseClient(ctx);
    ctx.set('Cache-Control', 'no-store');

    let principal: Principal | null = null;
    let allowedIps: string[] | null = null;
    let dpopJkt: string | null = null;
    try {
      if (looksLikeApiKey(token)) {
        // A remembered key and account are answered without waiting (no async frame per lookup).
        const inspected = deps.authenticator.inspectApiKeyRemembered(token) ?? deps.authenticator.inspectApiKey(token);
        ({ principal, allowedIps } = inspected instanceof Promise ? await inspected : inspected);
      } else {
        ({ principal, dpopJkt } = await deps.authenticator.introspect(token));
      }
    } catch {
      principal = null;
    }
    const visible =
      principal !== null &&
      (client.type === 'resource_server' || (principal.method === 'oauth' && principal.clientId === client.id));
    ctx.status = 200;
    const act = visible && !looksLikeApiKey(token) ? await deps.actOf?.(token) : undefined;
    ctx.body = visible ? { ...rfc7662(principal!, allowedIps, dpopJkt), ...(act ? { act } : {}) } : { active: false };
  };
}

/** The token's principal now, or null when it no longer stands (refused for any reason). */
async function currentPrincipal(authenticator: Authenticator, token: string): Promise<Principal | null> {
  try {
    return (await authenticator.introspect(token)).principal;
  } catch {
    return null;
  }
}
