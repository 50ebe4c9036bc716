import type Koa from 'koa';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from './config.ts';
import type { DB } from './db/client.ts';
import { createAccountsRepo, createBrowserSessionsRepo } from './features/accounts/accounts.repo.ts';
import { createAccountsService, type AccountsService } from './features/accounts/accounts.service.ts';
import { createPasswordHasher } from './features/accounts/passwords.ts';
import { createApplicationsRepo } from './features/applications/applications.repo.ts';
import { createApplicationsService, type ApplicationsService } from './features/applications/applications.service.ts';
import { createConsentsRepo } from './features/consents/consents.repo.ts';
import { createConsentsService } from './features/consents/consents.service.ts';
import { createPayloadsRepo, type StoredPayload } from './oidc/payloads.repo.ts';
import { startHousekeeping } from './housekeeping.ts';
import type { ServerKeys } from './oidc/keys.ts';
import type { AppState } from './http/context.ts';
import { createHttpApp } from './http/app.ts';
import { createApiKeysRepo } from './features/api-keys/api-keys.repo.ts';
import { createApiKeysService, type ApiKeysService } from './features/api-keys/api-keys.service.ts';
import { createUsersService } from './features/users/users.service.ts';
import { createProjectsRepo } from './features/projects/projects.repo.ts';
import { createProjectsService } from './features/projects/projects.service.ts';
import { createSharedJwtVerifier, type SharedJwtVerifier } from './auth/shared-jwt.ts';
import { createMemoryStore, type RateLimitStore } from './features/rate-limit/store.ts';
import { createRateLimiter } from './features/rate-limit/rate-limiter.ts';
import { createLoginThrottle } from './features/rate-limit/login-throttle.ts';
import { createLogin } from './features/accounts/login.ts';
import { createTwoFactorRepo } from './features/accounts/two-factor.repo.ts';
import { createTwoFactorService } from './features/accounts/two-factor.service.ts';
import { createSecretBox } from './shared/encryption.ts';
import { createWebhooksRepo } from './features/webhooks/webhooks.repo.ts';
import { createWebhooksService } from './features/webhooks/webhooks.service.ts';
import { createWebhookWorker, type WebhookWorker } from './features/webhooks/worker.ts';
import { createDeliver, type Deliver } from './features/webhooks/deliver.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { createTtlCache } from './shared/ttl-cache.ts';
import { createCredentialEvents, type CredentialEvents } from './shared/credential-events.ts';
import type { Credential } from './auth/credential.ts';
import { createAccountRights } from './auth/account-rights.ts';
import { ADMIN_SCOPE } from './auth/scopes.ts';

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

export { apiRouteGroups } from './api/route-groups.ts';

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

  // Timers, and the services the login forms and rate limits need (none of them HTTP).
  const stopHousekeeping = startHousekeeping(logger, [
    () => payloads.deleteExpired(now()),
    () => browserSessions.deleteExpired(now()),
    () => apiKeys.pruneActivity(),
  ]);
  const sharedJwt = config.JWT_SECRET
    ? createSharedJwtVerifier({
        secret: config.JWT_SECRET,
        issuer: config.JWT_ISSUER,
        maxLifetime: config.JWT_MAX_LIFETIME,
        now,
      })
    : null;
  // Rate limits and brute-force protection of the login forms.
  const rateLimitStore = deps.rateLimitStore ?? createMemoryStore();
  const limiter = createRateLimiter({ store: rateLimitStore, now, onRefused: metrics.rateLimitRefused });
  const twoFactor = createTwoFactorService({ repo: createTwoFactorRepo(db), box, now });
  const loginThrottle = createLoginThrottle({ store: rateLimitStore, now, perAddress: config.RATE_LIMIT_LOGIN });
  const login = createLogin(accounts, twoFactor, loginThrottle, metrics.login);

  // The authorization server, the pages and the APIs over HTTP.
  const http = createHttpApp({
    config,
    logger,
    keys,
    db,
    ...(deps.validateResponses !== undefined ? { validateResponses: deps.validateResponses } : {}),
    now,
    metrics,
    accounts,
    applications,
    apiKeys,
    users,
    projects,
    consents,
    webhooks,
    twoFactor,
    login,
    limiter,
    payloads,
    accountRights,
    credentialEvents,
    sharedJwt,
    oauthTokenCache,
    sharedJwtCache,
    tokenRowCache,
    grantStandingCache,
  });
  provider = http.provider;
  const { app, openApi } = http;

  return {
    app,
    provider: http.provider,
    services: { accounts, applications, apiKeys, sharedJwt },
    openApi,
    webhookWorker,
    metrics,
    routers: http.routers,
    async stop() {
      stopHousekeeping();
      await webhookWorker.stop();
      await apiKeys.stop();
    },
  };
}
