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
import { createAccountsRepo, createBrowserSessionsRepo } from './features/accounts/accounts.repo.ts';
import { createAccountsService, type AccountsService } from './features/accounts/accounts.service.ts';
import { createPasswordHasher } from './features/accounts/passwords.ts';
import { accountPagesRouter } from './features/accounts/accounts.pages.ts';
import { securityPagesRouter } from './features/accounts/security.pages.ts';
import { confirmPagesRouter } from './features/accounts/confirm.pages.ts';
import { requireFreshAuth } from './features/accounts/fresh-auth.ts';
import { createApplicationsRepo } from './features/applications/applications.repo.ts';
import { createApplicationsService, type ApplicationsService } from './features/applications/applications.service.ts';
import {
  APPLICATIONS_PREFIX,
  applicationsRouter,
  applicationsRoutes,
} from './features/applications/applications.routes.ts';
import { createConsentsRepo } from './features/consents/consents.repo.ts';
import { createConsentsService } from './features/consents/consents.service.ts';
import { createPayloadsRepo, type StoredPayload } from './oidc/payloads.repo.ts';
import { createAdapterFactory } from './oidc/adapter.ts';
import { startHousekeeping } from './housekeeping.ts';
import { createProvider } from './oidc/provider.ts';
import { interactionErrors, interactionRouter } from './oidc/interactions.ts';
import { jsonBodyShim } from './oidc/json-body-shim.ts';
import { issuerOrigin } from './oidc/issuer-origin.ts';
import { unifiedIntrospection } from './oidc/unified-introspection.ts';
import type { ServerKeys } from './oidc/keys.ts';
import { createApiKeysRepo } from './features/api-keys/api-keys.repo.ts';
import { createApiKeysService, type ApiKeysService } from './features/api-keys/api-keys.service.ts';
import { createUsersService } from './features/users/users.service.ts';
import { createProjectsRepo } from './features/projects/projects.repo.ts';
import { createProjectsService } from './features/projects/projects.service.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { createOAuthTokenVerifier } from './auth/oauth-tokens.ts';
import { createSharedJwtVerifier, type SharedJwtVerifier } from './auth/shared-jwt.ts';
import { apiVersion, v2RouteSpecs, v2Router } from './api/v2/router.ts';
import { buildOpenApi, serveOpenApi, type RouteGroup } from './api/openapi.ts';
import { createMemoryStore, type RateLimitStore } from './features/rate-limit/store.ts';
import { createRateLimiter, type Policies } from './features/rate-limit/rate-limiter.ts';
import { tokenEndpointLimit } from './features/rate-limit/token-endpoint.ts';
import { authorizeEndpointLimit } from './features/rate-limit/authorize-endpoint.ts';
import { createLoginThrottle } from './features/rate-limit/login-throttle.ts';
import { createLogin } from './features/accounts/login.ts';
import { createTwoFactorRepo } from './features/accounts/two-factor.repo.ts';
import { createTwoFactorService } from './features/accounts/two-factor.service.ts';
import { createSecretBox } from './shared/encryption.ts';
import { createWebhooksRepo } from './features/webhooks/webhooks.repo.ts';
import { createWebhooksService } from './features/webhooks/webhooks.service.ts';
import { createWebhookWorker, type WebhookWorker } from './features/webhooks/worker.ts';
import { createDeliver, type Deliver } from './features/webhooks/deliver.ts';
import { dashboardRouter } from './features/dashboard/dashboard.routes.ts';
import { createMetrics, httpMetrics, metricsEndpoint, observeProvider, type Metrics } from './http/metrics.ts';
import { healthProbes } from './http/health.ts';
import { accessLog } from './http/access-log.ts';
import { createTtlCache } from './shared/ttl-cache.ts';
import { createCredentialEvents, type CredentialEvents } from './shared/credential-events.ts';
import type { Credential } from './domain/credential.ts';
import { createAccountRights } from './auth/account-rights.ts';
import { ADMIN_SCOPE } from './domain/scopes.ts';
import { createGrantStanding } from './oidc/grant-standing.ts';

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
  services: {
    accounts: AccountsService;
    applications: ApplicationsService;
    apiKeys: ApiKeysService;
    sharedJwt: SharedJwtVerifier | null;
  };
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

/** Wires repositories, services and routers into a Koa app. Never listens: tests import this. */
export function buildApp(deps: AppDeps): BuiltApp {
  const { config, db, logger, keys } = deps;
  const now = deps.now ?? Date.now;
  const metrics = deps.metrics ?? createMetrics();
  const cacheTtlMs = config.CREDENTIAL_CACHE_TTL * 1000;
  // Checked credentials, trusted for CREDENTIAL_CACHE_TTL; revocations in this process empty them.
  const oauthTokenCache = createTtlCache<Credential>({ ttlMs: cacheTtlMs, max: 10_000, now });
  const sharedJwtCache = createTtlCache<Credential>({ ttlMs: cacheTtlMs, max: 10_000, now });
  const tokenRowCache = createTtlCache<StoredPayload | null>({ ttlMs: cacheTtlMs, max: 20_000, now });
  const grantStandingCache = createTtlCache<boolean>({ ttlMs: cacheTtlMs, max: 20_000, now });
  // Every cache of checked credentials forgets what a change names, whichever instance made it.
  const credentialEvents = deps.credentialEvents ?? createCredentialEvents();
  credentialEvents.subscribe((event) => {
    // Token caches are not indexed by grant, application or account: any of those empties them.
    oauthTokenCache.clear();
    tokenRowCache.clear();
    grantStandingCache.clear();
    if (event.kind === 'account') sharedJwtCache.deleteWhere((c) => c.userId === event.id);
  });
  const tokensRevoked = () => credentialEvents.publish({ kind: 'tokens' });

  // Storage and rules.
  const payloads = createPayloadsRepo(db);
  const browserSessions = createBrowserSessionsRepo(db);
  const accountsRepo = createAccountsRepo(db);
  const passwords = createPasswordHasher({ memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST });
  const accounts = createAccountsService({
    accounts: accountsRepo,
    sessions: browserSessions,
    providerSessions: { deleteByAccount: (id) => payloads.deleteSessionsOf(id) },
    passwords,
    now,
  });
  // What each account may hold now: every credential's effective scopes are computed from it.
  const accountRights = createAccountRights({
    findAccount: (id) => accounts.findById(id),
    events: credentialEvents,
    ttlMs: cacheTtlMs,
    now,
  });
  const projects = createProjectsService({ repo: createProjectsRepo(db), now });
  const apiKeys = createApiKeysService({
    repo: createApiKeysRepo(db),
    now,
    rotationGraceMs: config.API_KEY_ROTATION_GRACE * 1000,
    activityRetentionMs: config.API_KEY_ACTIVITY_RETENTION_DAYS * 86_400_000,
    cacheTtlMs,
    events: credentialEvents,
    logger,
    activityBacklog: config.API_KEY_ACTIVITY_BACKLOG,
    keyPolicy: config.RATE_LIMIT_API_KEY,
  });
  const box = createSecretBox(deps.secretsKey);
  const webhooksRepo = createWebhooksRepo(db);
  const webhooks = createWebhooksService({
    repo: webhooksRepo,
    box,
    now,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP * 1000,
    maxEndpoints: config.WEBHOOK_MAX_ENDPOINTS,
  });
  const webhookWorker = createWebhookWorker({
    repo: webhooksRepo,
    box,
    // A receiver gets 10 s to answer; an address that does not even accept the connection, 3 s.
    deliver:
      deps.deliver ??
      createDeliver({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, timeoutMs: 10_000, connectTimeoutMs: 3_000 }),
    now,
    logger,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER * 1000,
    concurrency: config.WEBHOOK_CONCURRENCY,
    onAttempt: metrics.webhookDelivery,
  });
  metrics.collectOutboxDepth(() => webhooksRepo.pendingCount());
  const consents = createConsentsService({ repo: createConsentsRepo(db), now, onRevoked: tokensRevoked });
  let provider: Provider | undefined;
  const applicationsRepo = createApplicationsRepo(db);
  const applications = createApplicationsService({
    repo: applicationsRepo,
    now,
    validateMetadata: async (metadata) => {
      await provider!.Client.validate(metadata as never);
    },
    cacheTtlMs,
    events: credentialEvents,
  });
  const users = createUsersService({
    repo: accountsRepo,
    accounts,
    now,
    onDeleted: (id) => credentialEvents.publish({ kind: 'account', id }),
    // A demoted admin keeps nothing that was granted as admin:all: its grants (with their refresh
    // tokens) and keys are revoked; every other credential loses it through its effective scopes.
    onRightsChanged: async (id, { demoted }) => {
      if (demoted) {
        await consents.revokeCarrying(id, ADMIN_SCOPE);
        await apiKeys.revokeCarrying(id, ADMIN_SCOPE);
      }
      credentialEvents.publish({ kind: 'account', id });
    },
  });

  // The authorization server.
  const render = createRenderer({ cache: process.env['NODE_ENV'] === 'production' });
  provider = createProvider({
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
  const stopHousekeeping = startHousekeeping(logger, [
    () => payloads.deleteExpired(now()),
    () => browserSessions.deleteExpired(now()),
    () => apiKeys.pruneActivity(),
  ]);

  // Bearer credentials for /v2 and /oauth/applications.
  const sharedJwt = config.JWT_SECRET
    ? createSharedJwtVerifier({
        secret: config.JWT_SECRET,
        issuer: config.JWT_ISSUER,
        maxLifetime: config.JWT_MAX_LIFETIME,
        now,
      })
    : null;
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

  // Rate limits (the seed's table) and brute-force protection of the login forms.
  const rateLimitStore = deps.rateLimitStore ?? createMemoryStore();
  const limiter = createRateLimiter({ store: rateLimitStore, now, onRefused: metrics.rateLimitRefused });
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
  const twoFactor = createTwoFactorService({ repo: createTwoFactorRepo(db), box, now });
  const loginThrottle = createLoginThrottle({ store: rateLimitStore, now, perAddress: config.RATE_LIMIT_LOGIN });
  const login = createLogin(accounts, twoFactor, loginThrottle, metrics.login);
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
    if (providerSessionId) await (await provider!.Session.find(providerSessionId))?.destroy();
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
    services: { accounts, applications, apiKeys, sharedJwt },
    openApi,
    webhookWorker,
    metrics,
    routers: [interactions, pages, dashboard, security, confirm, apps, v2],
    async stop() {
      stopHousekeeping();
      await webhookWorker.stop();
      await apiKeys.stop();
    },
  };
}
