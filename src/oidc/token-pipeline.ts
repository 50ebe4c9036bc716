import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { AppContext, AppState, PresentedClient } from '../http/context.ts';
import type { Config } from '../config.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { DEVICE_CODE_GRANT, clientSecretAccepted } from '../features/applications/applications.service.ts';
import { limitTokenRequests } from '../features/rate-limit/token-endpoint.ts';
import { limitAuthorizeRequests } from '../features/rate-limit/authorize-endpoint.ts';
import type { RateLimiter } from '../features/rate-limit/rate-limiter.ts';
import { jsonToForm, param } from './protocol-body.ts';
import { createTtlCache } from '../shared/ttl-cache.ts';
import { sha256 } from '../shared/secrets.ts';
import { authenticateClientOnce, type SecretChecks } from './client-auth.ts';
import { postedAuthorizationAsGet } from './authorize-post.ts';
import { unifiedIntrospection, type ApiTokens } from './unified-introspection.ts';

export interface ProtocolStepsDeps {
  config: Pick<
    Config,
    'RATE_LIMIT_TOKEN_ENDPOINT' | 'RATE_LIMIT_UNAUTHENTICATED' | 'RATE_LIMIT_AUTHORIZE' | 'DEVICE_POLL_INTERVAL'
  >;
  /** oidc-provider metadata of a client (the stored secret hash in `client_secret`). */
  findClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  /** `findClient` when the metadata is remembered (no wait), else undefined (client-auth.ts). */
  rememberedClient(clientId: string): Record<string, unknown> | undefined;
  authenticator: Authenticator;
  /** Introspection of registered APIs' tokens (unified-introspection.ts). */
  apiTokens?: ApiTokens;
  limiter: RateLimiter;
  /** Told of every client secret compared (metrics). */
  onClientSecretChecked(matched: boolean): void;
  /** The comparisons oidc-provider takes its answer from (client-auth.ts). */
  secretChecks: SecretChecks;
  /** The time now (epoch ms): a rotated client secret's overlap ends by it. */
  now(): number;
  renderError(ctx: AppContext, status: number, title: string, message: string): void;
  /** The `act` claim of an exchanged access token (RFC 8693), for introspection. */
  actOf?(token: string): Promise<Record<string, unknown> | undefined>;
  /** oidc-provider's introspection answer for an opaque token, given without it (see unified-introspection.ts). */
  answerAsProvider?(ctx: AppContext, client: PresentedClient): Promise<boolean>;
}

/**
 * What oidc-provider says (as invalid_request) when a client asks for a grant type it may not use:
 * at the token endpoint, and at the device authorization endpoint (RFC 8628 §3.2).
 */
const GRANT_TYPE_NOT_ALLOWED = new Set([
  'requested grant type is not allowed for this client',
  `${DEVICE_CODE_GRANT} is not allowed for this client`,
]);

/**
 * RFC 6749 §5.2 names this refusal `unauthorized_client`; oidc-provider answers `invalid_request`.
 * Its checks and their order stay its own (the client is authenticated first, so only the
 * application itself learns which grants it may not use); only the code of that one answer is
 * renamed, on its way out.
 */
export function unauthorizedClientForDisallowedGrant(): Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    const description = typeof body?.error_description === 'string' ? body.error_description : '';
    if (ctx.status === 400 && body?.error === 'invalid_request' && GRANT_TYPE_NOT_ALLOWED.has(description)) {
      body.error = 'unauthorized_client';
    }
  };
}

/**
 * RFC 8628 §3.5: a device polling for its tokens sooner than `interval` seconds after its previous
 * poll hears `slow_down` (and must add 5 seconds to its interval). Each poll restarts the wait, so
 * a device that keeps polling too fast keeps hearing it. Polls are remembered by the device code's
 * hash, per instance, for the interval.
 */
export function slowDownFastPolling(deps: { intervalSeconds: number; now(): number }): Middleware<AppState> {
  const lastPoll = createTtlCache<true>({ ttlMs: deps.intervalSeconds * 1000, max: 100_000, now: deps.now });
  return async (ctx, next) => {
    const deviceCode = param(ctx.state.oauthParams, 'device_code');
    if (param(ctx.state.oauthParams, 'grant_type') !== DEVICE_CODE_GRANT || !deviceCode) return next();
    const key = sha256(deviceCode);
    const tooSoon = lastPoll.get(key) !== undefined;
    lastPoll.delete(key);
    lastPoll.set(key, true);
    if (!tooSoon) return next();
    ctx.status = 400;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'slow_down', error_description: `poll at most every ${deps.intervalSeconds} seconds` };
  };
}

/** Body-carrying steps run for POST, the only method these endpoints take a body with. */
function onPost(...steps: Middleware<AppState>[]): Middleware<AppState> {
  const run = compose(steps);
  return (ctx, next) => (ctx.method === 'POST' ? run(ctx, next) : next());
}

/**
 * What runs in front of oidc-provider at each of its endpoints, in order (as oidc-provider lists
 * its own steps in `lib/actions/token.js`). The body is read and parsed once (jsonToForm) and the
 * client's secret compared once (authenticateClientOnce); oidc-provider takes both from there.
 *
 * - token:         jsonToForm → authenticateClientOnce → limitTokenRequests → unauthorizedClientForDisallowedGrant
 *                  → slowDownFastPolling
 * - device authorization: jsonToForm → authenticateClientOnce → limitTokenRequests
 *                  → unauthorizedClientForDisallowedGrant
 * - par:           jsonToForm → authenticateClientOnce → limitTokenRequests
 * - introspection: jsonToForm → authenticateClientOnce → unifiedIntrospection
 * - revocation:    jsonToForm → authenticateClientOnce
 * - authorization: postedAuthorizationAsGet → limitAuthorizeRequests
 */
export function protocolPipelines(deps: ProtocolStepsDeps) {
  const readParams = jsonToForm();
  const authenticateClient = authenticateClientOnce({
    findClient: deps.findClient,
    rememberedClient: deps.rememberedClient,
    secretAccepted: (presented, metadata) => clientSecretAccepted(presented, metadata, deps.now()),
    onChecked: deps.onClientSecretChecked,
    checks: deps.secretChecks,
  });
  // Device authorizations count on the token endpoint's buckets: each stores a device code.
  const limitRequests = limitTokenRequests({
    limiter: deps.limiter,
    perClient: deps.config.RATE_LIMIT_TOKEN_ENDPOINT,
    unauthenticated: deps.config.RATE_LIMIT_UNAUTHENTICATED,
  });
  return {
    token: onPost(
      readParams,
      authenticateClient,
      limitRequests,
      unauthorizedClientForDisallowedGrant(),
      slowDownFastPolling({ intervalSeconds: deps.config.DEVICE_POLL_INTERVAL, now: deps.now }),
    ),
    deviceAuthorization: onPost(readParams, authenticateClient, limitRequests, unauthorizedClientForDisallowedGrant()),

    // A pushed authorization request authenticates its client as a token request does, and counts
    // against the same limits: pushing is the first half of getting a token.
    par: onPost(readParams, authenticateClient, limitRequests),
    introspection: onPost(
      readParams,
      authenticateClient,
      unifiedIntrospection({
        authenticator: deps.authenticator,
        ...(deps.apiTokens ? { apiTokens: deps.apiTokens } : {}),
        ...(deps.actOf ? { actOf: deps.actOf } : {}),
        ...(deps.answerAsProvider ? { answerAsProvider: deps.answerAsProvider } : {}),
      }),
    ),
    revocation: onPost(readParams, authenticateClient),
    authorization: compose([
      postedAuthorizationAsGet(deps.renderError),
      limitAuthorizeRequests({
        limiter: deps.limiter,
        policy: deps.config.RATE_LIMIT_AUTHORIZE,
        renderError: deps.renderError,
      }),
    ]),
  };
}

export type ProtocolPipelines = ReturnType<typeof protocolPipelines>;
