import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../http/context.ts';
import type { Config } from '../config.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { clientSecretAccepted } from '../features/applications/applications.service.ts';
import { limitTokenRequests } from '../features/rate-limit/token-endpoint.ts';
import { limitAuthorizeRequests } from '../features/rate-limit/authorize-endpoint.ts';
import type { RateLimiter } from '../features/rate-limit/rate-limiter.ts';
import { jsonToForm } from './protocol-body.ts';
import { authenticateClientOnce } from './client-auth.ts';
import { postedAuthorizationAsGet } from './authorize-post.ts';
import { unifiedIntrospection, type ApiTokens } from './unified-introspection.ts';

export interface ProtocolStepsDeps {
  config: Pick<Config, 'RATE_LIMIT_TOKEN_ENDPOINT' | 'RATE_LIMIT_UNAUTHENTICATED' | 'RATE_LIMIT_AUTHORIZE'>;
  /** oidc-provider metadata of a client (the stored secret hash in `client_secret`). */
  findClient(clientId: string): Promise<Record<string, unknown> | undefined>;
  authenticator: Authenticator;
  /** Introspection of registered APIs' tokens (unified-introspection.ts). */
  apiTokens?: ApiTokens;
  limiter: RateLimiter;
  /** Told of every client secret compared (metrics). */
  onClientSecretChecked(matched: boolean): void;
  /** The time now (epoch ms): a rotated client secret's overlap ends by it. */
  now(): number;
  renderError(ctx: AppContext, status: number, title: string, message: string): void;
  /** The `act` claim of an exchanged access token (RFC 8693), for introspection. */
  actOf?(token: string): Promise<Record<string, unknown> | undefined>;
}

/** What oidc-provider says (as invalid_request) when a client asks for a grant type it may not use. */
const GRANT_TYPE_NOT_ALLOWED = 'requested grant type is not allowed for this client';

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
    if (ctx.status === 400 && body?.error === 'invalid_request' && body.error_description === GRANT_TYPE_NOT_ALLOWED) {
      body.error = 'unauthorized_client';
    }
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
 * - introspection: jsonToForm → authenticateClientOnce → unifiedIntrospection
 * - revocation:    jsonToForm → authenticateClientOnce
 * - authorization: postedAuthorizationAsGet → limitAuthorizeRequests
 */
export function protocolPipelines(deps: ProtocolStepsDeps) {
  const readParams = jsonToForm();
  const authenticateClient = authenticateClientOnce({
    findClient: deps.findClient,
    secretAccepted: (presented, metadata) => clientSecretAccepted(presented, metadata, deps.now()),
    onChecked: deps.onClientSecretChecked,
  });
  return {
    token: onPost(
      readParams,
      authenticateClient,
      limitTokenRequests({
        limiter: deps.limiter,
        perClient: deps.config.RATE_LIMIT_TOKEN_ENDPOINT,
        unauthenticated: deps.config.RATE_LIMIT_UNAUTHENTICATED,
      }),
      unauthorizedClientForDisallowedGrant(),
    ),
    introspection: onPost(
      readParams,
      authenticateClient,
      unifiedIntrospection({
        authenticator: deps.authenticator,
        ...(deps.apiTokens ? { apiTokens: deps.apiTokens } : {}),
        ...(deps.actOf ? { actOf: deps.actOf } : {}),
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
