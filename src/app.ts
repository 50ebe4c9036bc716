import Koa from 'koa';
import mount from 'koa-mount';
import compose from 'koa-compose';
import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import type { DB } from './db/client.ts';
import type { AppContext, AppState } from './http/context.ts';
import { requestId } from './http/request-id.ts';
import { requireReadableTarget } from './http/request-target.ts';
import { drainBody } from './http/drain-body.ts';
import { errorHandler } from './http/error-handler.ts';
import { securityHeaders } from './http/security-headers.ts';
import { createRenderer } from './http/render.ts';
import { browserSession, clearSessionCookie, setSessionCookie } from './http/session.ts';
import { csrf } from './http/csrf.ts';
import { serveStatic } from './http/static.ts';
import { accountPagesRouter } from './features/accounts/accounts.pages.ts';
import { securityPagesRouter } from './features/accounts/security.pages.ts';
import { confirmPagesRouter } from './features/accounts/confirm.pages.ts';
import { requireFreshAuth } from './features/accounts/fresh-auth.ts';
import type { ApplicationsService } from './features/applications/applications.service.ts';
import {
  APPLICATIONS_PREFIX,
  applicationsRouter,
  applicationsRoutes,
} from './features/applications/applications.routes.ts';
import { createAdapterFactory } from './oidc/adapter.ts';
import { createProvider } from './oidc/provider.ts';
import { interactionErrors, interactionRouter } from './oidc/interactions.ts';
import { jsonBodyShim } from './oidc/json-body-shim.ts';
import { issuerOrigin } from './oidc/issuer-origin.ts';
import { unifiedIntrospection } from './oidc/unified-introspection.ts';
import type { ServerKeys } from './oidc/keys.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createOAuthTokenVerifier } from './auth/oauth-tokens.ts';
import { apiVersion, v2RouteSpecs, v2Router } from './api/v2/router.ts';
import { buildOpenApi, serveOpenApi, type RouteGroup } from './api/openapi.ts';
import type { RateLimitStore } from './features/rate-limit/store.ts';
import type { Policies } from './features/rate-limit/rate-limiter.ts';
import { tokenEndpointLimit } from './features/rate-limit/token-endpoint.ts';
import { authorizeEndpointLimit } from './features/rate-limit/authorize-endpoint.ts';
import type { WebhookWorker } from './features/webhooks/worker.ts';
import type { Deliver } from './features/webhooks/deliver.ts';
import { dashboardRouter } from './features/dashboard/dashboard.routes.ts';
import { httpMetrics, metricsEndpoint, observeProvider, type Metrics } from './http/metrics.ts';
import { healthProbes } from './http/health.ts';
import { accessLog } from './http/access-log.ts';
import type { CredentialEvents } from './shared/credential-events.ts';
import { createGrantStanding } from './oidc/grant-standing.ts';
import { createServices, type Services } from './services.ts';

export interface AppDeps {
  config: Config;
  db: DB;
  logger: Logger;
  keys: ServerKeys;
  /** The clock (epoch ms); tests may pass their own. */
  now?: () => number;
  /** Where rate-limit counters live; in memory (one process) unless given. */
  rateLimitStore?: RateLimitStore;
  /** Encrypts secrets that must be used again (webhook signing secrets). */
  secretsKey: Buffer;
  /** Sends one webhook; tests may pass a recording one. Default: HTTP with the SSRF guard. */
  deliver?: Deliver;
  /** Check every API response against its declared schema (tests). */
  validateResponses?: boolean;
  /** Prometheus metrics (a fresh per-app registry unless given). */
  metrics?: Metrics;
  /** Credential changes, heard by every cache (in this process only, unless a relay is attached). */
  credentialEvents?: CredentialEvents;
}

export interface BuiltApp {
  app: Koa<AppState>;
  provider: Provider;
  /** The OpenAPI document served at /v2/openapi.json. */
  openApi: Record<string, unknown>;
  /** Everything below HTTP (services.ts). */
  services: Services;
  /** Delivers the webhook outbox; the server starts it, the CLI does not. */
  webhookWorker: WebhookWorker;
  /** What /metrics serves. */
  metrics: Metrics;
  /** Every router the app serves, pages and APIs (tools and the fuzzers list routes from these). */
  routers: Router<AppState>[];
  /** Stops background timers and flushes buffered writes; the caller then closes the server and the database. */
  stop(): Promise<void>;
}

/**
 * The JSON APIs' routes by prefix. The routers and the OpenAPI document are built from these, and
 * the security tests list every route from them (specs only keep the services for their handlers,
 * so listing them touches none).
 */
export function apiRouteGroups(
  services: Parameters<typeof v2RouteSpecs>[0] & { applications: ApplicationsService },
): RouteGroup[] {
  return [
    { prefix: '/v2', specs: v2RouteSpecs(services) },
    { prefix: APPLICATIONS_PREFIX, specs: applicationsRoutes(services.applications) },
  ];
}

/** Browser pages (as opposed to APIs and oidc-provider's endpoints). */
const isPagePath = (p: string) => !/^\/(oauth|v2|\.well-known|static)(\/|$)/.test(p);

/** Wires the services (see services.ts) and the routers into a Koa app. Never listens: tests import this. */
export function buildApp(deps: AppDeps): BuiltApp {
  const { config, db, logger, keys } = deps;
  const services = createServices(
    { config, db, logger, keys, secretsKey: deps.secretsKey },
    {
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.rateLimitStore ? { rateLimitStore: deps.rateLimitStore } : {}),
      ...(deps.deliver ? { deliver: deps.deliver } : {}),
      ...(deps.credentialEvents ? { credentialEvents: deps.credentialEvents } : {}),
    },
  );
  const {
    now,
    metrics,
    tokensRevoked,
    oauthTokenCache,
    sharedJwtCache,
    tokenRowCache,
    grantStandingCache,
    payloads,
    accounts,
    accountRights,
    projects,
    apiKeys,
    webhooks,
    webhookWorker,
    consents,
    applications,
    users,
    sharedJwt,
    limiter,
    twoFactor,
    login,
  } = services;

  // The authorization server.
  const render = createRenderer({ cache: process.env['NODE_ENV'] === 'production' });
  const provider = createProvider({
    config,
    keys,
    accounts,
    consents,
    logger,
    ownerIsAdmin: async (clientId) => {
      const owner = await applications.ownerOf(clientId);
      return owner !== null && (await accountRights.of(owner))?.isAdmin === true;
    },
    adapter: createAdapterFactory({
      payloads,
      findClient: (id) => applications.clientMetadata(id),
      refreshTokenReuseGraceMs: config.REFRESH_TOKEN_REUSE_GRACE * 1000,
      now,
      onRevoked: tokensRevoked,
      rowCache: tokenRowCache,
    }),
    // 503 (the database unreachable) stays 503: the person may retry the same link.
    renderError: async (ctx, title, message) =>
      render.error(ctx as unknown as AppContext, ctx.status === 503 ? 503 : 400, title, message),
  });
  observeProvider(provider, metrics);

  // Bearer credentials for /v2 and /oauth/applications.
  const authenticator = createAuthenticator({
    apiKeys,
    sharedJwt,
    oauth: createOAuthTokenVerifier({
      provider,
      issuer: config.ISSUER,
      apiResource: config.API_RESOURCE,
      signingKeys: keys.jwks.keys as never,
      ownerOfClient: (clientId) => applications.ownerOf(clientId),
      grantStands: createGrantStanding({ payloads, cache: grantStandingCache, now }),
      cache: oauthTokenCache,
    }),
    rights: accountRights,
    applicationExists: (clientId) => applications.exists(clientId),
    jwtAccessTokens: config.ACCESS_TOKEN_FORMAT === 'jwt',
    sharedJwtCache,
    now,
  });

  // Rate-limit policies per kind of credential (the limiter and the login throttle are services).
  const policies: Policies = {
    apiKey: config.RATE_LIMIT_API_KEY,
    oauth: config.RATE_LIMIT_OAUTH,
    jwt: config.RATE_LIMIT_JWT,
    unauthenticated: config.RATE_LIMIT_UNAUTHENTICATED,
  };
  const appPolicies: Policies = {
    apiKey: config.RATE_LIMIT_APPLICATIONS,
    oauth: config.RATE_LIMIT_APPLICATIONS,
    jwt: config.RATE_LIMIT_APPLICATIONS,
    unauthenticated: config.RATE_LIMIT_UNAUTHENTICATED,
  };
  const freshAuth = requireFreshAuth({
    maxAgeMs: config.FRESH_AUTH_MAX_AGE * 1000,
    now,
    formPage: '/settings/security',
  });

  // Browser sessions shared by the pages.
  const secure = config.secureCookies;
  const startDashboardSession = async (ctx: AppContext, userId: string) => {
    const session = await accounts.startSession(userId);
    setSessionCookie(ctx, session.id, session.expiresAt, secure);
  };
  const endSessions = async (ctx: AppContext) => {
    if (ctx.state.sessionId) await accounts.endSession(ctx.state.sessionId);
    clearSessionCookie(ctx, secure);
    const providerSessionId = ctx.cookies.get('_session', { signed: true });
    if (providerSessionId) await (await provider.Session.find(providerSessionId))?.destroy();
    ctx.cookies.set('_session', null, { signed: true });
  };
  const formGuard = [bodyParser({ enableTypes: ['form'], formLimit: '16kb' }), csrf({ secure })];
  const pageGuard = csrf({ secure });
  const jsonBody = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' });

  const interactions = interactionRouter({
    provider,
    accounts,
    login,
    consents,
    render,
    apiResource: config.API_RESOURCE,
    startDashboardSession,
    formGuard,
    secureCookies: secure,
    now,
  });
  const pages = accountPagesRouter({
    accounts,
    login,
    render,
    signupOpen: config.SIGNUP === 'open',
    secureCookies: secure,
    now,
    startDashboardSession,
    signupLimit: (ip) => limiter.check(`signup:ip:${ip}`, config.RATE_LIMIT_SIGNUP),
    endSessions,
    formGuard,
  });
  const origin = new URL(config.ISSUER).origin;
  const dashboard = dashboardRouter({
    render,
    formGuard,
    apiKeys,
    applications,
    consents,
    webhooks,
    now,
    origin,
    twoFactorEnabled: async (id) => (await twoFactor.status(id)).enabled,
  });
  const security = securityPagesRouter({
    accounts,
    twoFactor,
    login,
    render,
    formGuard,
    freshAuth,
    revokeAllApplications: (id) => consents.revokeAll(id),
  });
  const confirm = confirmPagesRouter({ accounts, login, render, formGuard });
  const buildOpts = { validateResponses: deps.validateResponses ?? false };
  const routeGroups = apiRouteGroups({ users, projects, apiKeys, consents, webhooks, applications });
  const apps = applicationsRouter(
    { applications, authenticator, origin, jsonBody, limiter, policies: appPolicies },
    routeGroups[1]!.specs,
    buildOpts,
  );
  const v2 = v2Router(
    { authenticator, apiKeys, users, projects, consents, webhooks, jsonBody, origin, limiter, policies, now },
    routeGroups[0]!.specs,
    buildOpts,
  );
  const openApi = buildOpenApi(routeGroups, { version: '2.0', serverUrl: config.ISSUER });

  // Request flow: id -> errors -> headers -> our routers -> oidc-provider (no body parser before it).
  // maxIpsCount: ctx.ip is the address the outermost trusted proxy appended, never one a client wrote.
  const app = new Koa<AppState>({
    proxy: config.TRUST_PROXY > 0,
    maxIpsCount: config.TRUST_PROXY,
    keys: keys.cookieKeys,
  });
  // What Koa could not answer (the connection failed while the answer was going out: a client that
  // hung up, bytes after `Connection: close`) goes to the log; unheard, Koa prints stacks to stderr.
  app.on('error', (err: Error & { code?: string }, ctx?: AppContext) => {
    const byClient =
      /^(HPE_|ECONNRESET|EPIPE|ECONNABORTED|ERR_STREAM_PREMATURE_CLOSE)/.test(err.code ?? '') ||
      err.message.startsWith('Parse Error');
    logger[byClient ? 'debug' : 'warn'](
      { reqId: ctx?.state?.requestId, err: { message: err.message, code: err.code } },
      'connection failed during the answer',
    );
  });
  app.use(requireReadableTarget());
  app.use(requestId(logger));
  app.use(drainBody());
  app.use(accessLog(httpMetrics(metrics)));
  app.use(errorHandler(render));
  app.use(securityHeaders({ hsts: secure }));
  app.use(healthProbes({ db, exposePid: config.LATCHKEY_DEBUG_PID }));
  app.use(metricsEndpoint(metrics, { token: config.METRICS_TOKEN }));
  app.use(serveStatic('/static'));
  app.use(apiVersion());
  app.use(browserSession(accounts));
  // Browser pages only: API requests skip their routers (the bench profile showed an API request
  // spending ~15 µs matching page routes it could never hit).
  const pageMiddleware: Koa.Middleware<AppState>[] = [
    // GET pages need the CSRF token for their forms; the check itself runs in formGuard.
    async (ctx, next) => (ctx.method === 'GET' ? pageGuard(ctx, next) : next()),
    interactionErrors(render),
    ...[interactions, pages, dashboard, security, confirm].flatMap(
      (r) => [r.routes(), r.allowedMethods()] as Koa.Middleware<AppState>[],
    ),
  ];
  const pageStack = compose(pageMiddleware);
  app.use((ctx, next) => (isPagePath(ctx.path) ? pageStack(ctx, next) : next()));
  app.use(apps.routes()).use(apps.allowedMethods());
  app.use(serveOpenApi(openApi));
  app.use(v2.routes()).use(v2.allowedMethods());
  app.use(jsonBodyShim());
  app.use(
    authorizeEndpointLimit({
      limiter,
      policy: config.RATE_LIMIT_AUTHORIZE,
      renderError: (ctx, status, title, message) => render.error(ctx, status, title, message),
    }),
  );
  app.use(
    tokenEndpointLimit({
      limiter,
      applications,
      perClient: config.RATE_LIMIT_TOKEN_ENDPOINT,
      unauthenticated: config.RATE_LIMIT_UNAUTHENTICATED,
    }),
  );
  app.use(unifiedIntrospection({ authenticator, applications }));
  app.use(issuerOrigin(config.ISSUER));
  app.use(mount(provider as never));

  return {
    app,
    provider,
    services,
    openApi,
    webhookWorker,
    metrics,
    routers: [interactions, pages, dashboard, security, confirm, apps, v2],
    stop: () => services.stop(),
  };
}
