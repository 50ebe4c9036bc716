import Koa from 'koa';
import type Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from '../config.ts';
import type { DB } from '../db/client.ts';
import type { AppContext, AppState } from './context.ts';
import { requestFrame } from './request-frame.ts';
import { answerRequestId } from './request-id.ts';
import { gatherFieldsIntoAnswerHead } from './gathered-fields.ts';
import { accessLog } from './access-log.ts';
import { exposePid, liveness, readiness } from './health.ts';
import { httpMetrics, metricsEndpoint, observeProvider } from './metrics.ts';
import { createRenderer } from './render.ts';
import { byPath } from './mount.ts';
import { opsApp } from './apps/ops.ts';
import { oauthApp } from './apps/oauth.ts';
import { applicationsApp } from './apps/applications.ts';
import { v2App } from './apps/v2.ts';
import { wellKnownApp } from './apps/well-known.ts';
import { staticApp } from './apps/static.ts';
import { pagesApp } from './apps/pages.ts';
import { adminApp } from './apps/admin.ts';
import { deviceApp } from './apps/device.ts';
import { applicationsRouter } from '../features/applications/applications.routes.ts';
import { registrationRouter } from '../features/registration/registration.routes.ts';

import type { Policies } from '../features/rate-limit/rate-limiter.ts';
import { createProvider, ID_TOKEN_TTL } from '../oidc/provider.ts';
import { createSigningKeysConsole } from '../oidc/signing-keys.service.ts';
import { createServerSecretsRepo } from '../oidc/server-secrets.repo.ts';
import { createAdapterFactory } from '../oidc/adapter.ts';
import type { ServerKeys } from '../oidc/keys.ts';
import { createGrantStanding } from '../oidc/grant-standing.ts';
import { protocolPipelines } from '../oidc/token-pipeline.ts';
import { createProviderIntrospection } from '../oidc/provider-introspection.ts';
import { introspectionPolicy } from '../oidc/introspection-policy.ts';
import { createSecretChecks } from '../oidc/client-auth.ts';
import { createTtlCache } from '../shared/ttl-cache.ts';
import { userinfoEndpoint } from '../oidc/userinfo.ts';
import { subjectFor } from '../oidc/pairwise.ts';
import { createOpenIdGrants } from '../oidc/openid-grants.ts';
import { createSubjectTokenReader } from '../oidc/subject-token.ts';
import { providerSessionsFromDashboard } from '../oidc/dashboard-login.ts';
import { createAuthenticator } from '../auth/authenticate.ts';
import { createOAuthTokenVerifier } from '../auth/oauth-tokens.ts';
import { createDpopProofVerifier } from '../auth/dpop-proof.ts';
import { v2Router } from '../api/v2/router.ts';
import { buildOpenApi } from '../api/openapi.ts';
import { apiRouteGroups } from '../api/route-groups.ts';
import { protectedResourceMetadataUrl } from '../features/apis/protected-resource.ts';
import { serveProtectedResourceMetadata } from './protected-resource.ts';
import type { Services } from '../services.ts';

/** The services the HTTP side is built on (services.ts); it adds no state of its own. */
export type HttpServices = Pick<
  Services,
  | 'now'
  | 'metrics'
  | 'accounts'
  | 'applications'
  | 'apis'
  | 'apiKeys'
  | 'users'
  | 'emailChange'
  | 'accountExport'
  | 'projects'
  | 'consents'
  | 'webhooks'
  | 'shownOnce'
  | 'twoFactor'
  | 'passkeys'
  | 'login'
  | 'limiter'
  | 'payloads'
  | 'accountRights'
  | 'tokensRevoked'
  | 'sharedJwt'
  | 'oauthTokenCache'
  | 'sharedJwtCache'
  | 'tokenRowCache'
  | 'grantStandingCache'
  | 'emailVerification'
  | 'passwordReset'
  | 'backchannelLogout'
  | 'box'
  | 'registration'
  | 'setup'
  | 'audit'
  | 'auditLog'
  | 'auditTrail'
  | 'userAdmin'
  | 'applicationSuspension'
  | 'apiKeysAdmin'
  | 'webhookHealth'
>;

/** Settings and keys the HTTP side needs besides the services. */
export interface HttpSettings {
  config: Config;
  logger: Logger;
  keys: ServerKeys;
  db: DB;
  /** Check every API response against its declared schema (tests). */
  validateResponses?: boolean;
}

export interface HttpApp {
  app: Koa<AppState>;
  provider: Provider;
  /** The OpenAPI document served at /v2/openapi.json. */
  openApi: Record<string, unknown>;
  /** Every router the app serves, pages and APIs (tools and the fuzzers list routes from these). */
  routers: Router<AppState>[];
}

/**
 * The authorization server over HTTP: oidc-provider, the credential checks, the pages and the
 * APIs, mounted by audience. Every request passes the steps that apply to all (a readable target,
 * a request id, draining what was not read); then the one app whose paths it names answers it,
 * with its own access log and metrics label, error format, headers and body parsing:
 *
 *   /healthz /readyz /metrics  operators          JSON, never HTML
 *   /oauth/applications        application API    JSON error model
 *   /oauth                     oidc-provider      RFC 6749 errors; browser pages at /oauth/authorize
 *   /device                    device flow pages  HTML (RFC 8628's code entry), the browser session
 *   /.well-known               discovery          JSON
 *   /v2                        the API            JSON error model, X-API-Version
 *   /static                    CSS, script, icons
 *   /admin                     operators' console HTML for admins and auditors, CSRF, fresh sign-in for changes
 *   everything else            pages for people   HTML, CSRF, the browser session
 */
export function createHttpApp(services: HttpServices, settings: HttpSettings): HttpApp {
  const deps = { ...services, ...settings };
  const { config, logger, keys, accounts, applications, consents, limiter, metrics, now, tokensRevoked } = deps;
  const render = createRenderer({ cache: process.env['NODE_ENV'] === 'production' });
  const hsts = config.secureCookies;

  // A person's access token as token exchange (and introspection of its result) reads it.
  const exchangeReader = createSubjectTokenReader({
    issuer: config.ISSUER,
    signingKeys: keys.jwks.keys as never,
    payloads: deps.payloads,
    now,
  });
  // Who may learn about a token: oidc-provider's introspection and our answer for it ask the same.
  const mayIntrospect = introspectionPolicy({
    apiResource: config.API_RESOURCE,
    clientExists: (clientId) => applications.exists(clientId),
  });
  // Client secrets the token pipeline compared, for oidc-provider to take rather than compare again.
  const secretChecks = createSecretChecks();
  // Grants' expiries as the adapter last read or wrote them: a refresh token ends no later.
  const grantExpiries = createTtlCache<number>({ ttlMs: 60_000, max: 10_000, now });
  // The authorization server.
  const provider = createProvider({
    config,
    keys,
    accounts,
    consents,
    logger,
    tokenExchange: {
      findApi: (identifier) => deps.apis.find(identifier),
      caller: (clientId) => applications.exchangeCaller(clientId),
      subjectToken: exchangeReader.subjectToken,
      grant: (hash) => exchangeReader.grant(hash),
      builtInApi: config.API_RESOURCE,
      now,
    },
    findApi: (identifier) => deps.apis.find(identifier),
    findApisByScopes: (names) => deps.apis.findByScopes(names),
    mayIntrospect,
    accountActive: async (accountId) => (await deps.accountRights.of(accountId)) !== null,
    ownerStanding: async (clientId) => {
      const owner = await applications.ownerOf(clientId);
      return owner === null ? null : deps.accountRights.standing(owner);
    },
    adapter: createAdapterFactory({
      payloads: deps.payloads,
      findClient: (id) => applications.clientMetadata(id),
      refreshTokenReuseGraceMs: config.REFRESH_TOKEN_REUSE_GRACE * 1000,
      now,
      onRevoked: tokensRevoked,
      rowCache: deps.tokenRowCache,
      box: deps.box,
      grantExpiries,
    }),
    grantExpiry: (grantId) => grantExpiries.get(grantId),
    // 503 (the database unreachable) stays 503: the person may retry the same link.
    renderError: async (ctx, title, message, developerHint) =>
      render.error(ctx as unknown as AppContext, ctx.status === 503 ? 503 : 400, title, message, developerHint),
    secretCheckedEarlier: secretChecks.earlier,
    onClientSecretChecked: (matched) => metrics.clientSecretChecked(matched),
    now,
    renderLogout: async (ctx, page) => {
      const pageCtx = ctx as unknown as AppContext;
      if (page.kind === 'done') return render.page(pageCtx, 'logged-out', { clientName: page.clientName });
      const email = (await accounts.findById(page.accountId))?.email ?? '';
      render.page(pageCtx, 'logout', { ...page, email });
    },
    sendLogoutToken: (target, sub, sid) => deps.backchannelLogout.send(target, sub, sid),
    renderDevice: async (ctx, page) => render.page(ctx as unknown as AppContext, `device-${page.kind}`, page),
  });
  observeProvider(provider, metrics);
  providerSessionsFromDashboard(provider);

  // Bearer credentials for /v2, /oauth/applications and introspection.
  const oauthTokens = createOAuthTokenVerifier({
    provider,
    issuer: config.ISSUER,
    apiResource: config.API_RESOURCE,
    signingKeys: keys.jwks.keys as never,
    ownerOfClient: (clientId) => applications.ownerOf(clientId),
    standingGrant: createGrantStanding({ payloads: deps.payloads, cache: deps.grantStandingCache, now }),
    cache: deps.oauthTokenCache,
  });
  const authenticator = createAuthenticator({
    apiKeys: deps.apiKeys,
    sharedJwt: deps.sharedJwt,
    oauth: oauthTokens,
    rights: deps.accountRights,
    applicationExists: (clientId) => applications.exists(clientId),
    applicationRemembered: (clientId) => applications.existsRemembered(clientId),
    jwtAccessTokens: config.ACCESS_TOKEN_FORMAT === 'jwt',
    sharedJwtCache: deps.sharedJwtCache,
    // Proof ids are remembered in the database, beside oidc-provider's rows, so every instance
    // sees every other's; expired ones go with the housekeeping of those rows.
    dpopProofs: createDpopProofVerifier({
      recordProofId: (idHash, expiresAt) => deps.payloads.insertOnce('DPoPProof', idHash, expiresAt),
      now,
    }),
    now,
  });

  // The JSON APIs, their routers and their description, from one list of route specs.
  const origin = new URL(config.ISSUER).origin;
  const jsonBody = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb' });
  const buildOpts = { validateResponses: deps.validateResponses ?? false };
  // The operators' signing keys: a retired key stays published as long as a token it signed may live.
  const signingKeys = createSigningKeysConsole({
    secrets: createServerSecretsRepo(deps.db, deps.box),
    loaded: keys.jwks,
    keepRetiredMs: Math.max(config.ACCESS_TOKEN_TTL, ID_TOKEN_TTL) * 1000,
    audit: deps.audit,
    now,
  });
  const adminResources = { ...deps, signingKeys };
  const routeGroups = apiRouteGroups({ ...deps, adminResources });
  const policies: Policies = {
    apiKey: config.RATE_LIMIT_API_KEY,
    oauth: config.RATE_LIMIT_OAUTH,
    jwt: config.RATE_LIMIT_JWT,
    unauthenticated: config.RATE_LIMIT_UNAUTHENTICATED,
  };
  const v2Deps = { ...deps, adminResources, authenticator, jsonBody, origin, policies };
  const v2 = v2Router(v2Deps, routeGroups[0]!.specs, buildOpts);
  // Registration has its own (lower) limit per credential; unauthenticated callers per address.
  const appPolicies: Policies = {
    apiKey: config.RATE_LIMIT_APPLICATIONS,
    oauth: config.RATE_LIMIT_APPLICATIONS,
    jwt: config.RATE_LIMIT_APPLICATIONS,
    unauthenticated: config.RATE_LIMIT_UNAUTHENTICATED,
  };
  const apps = applicationsRouter(
    { applications, authenticator, origin, jsonBody, limiter, policies: appPolicies },
    routeGroups[1]!.specs,
    buildOpts,
  );
  const openApi = buildOpenApi(routeGroups, { version: '2.0', serverUrl: config.ISSUER });

  const pages = pagesApp({ ...deps, provider, render });
  const admin = adminApp({ ...deps, render, signingKeys });
  // RFC 7591/7592 at /oauth/register, only when DYNAMIC_REGISTRATION is on (off: 404, not advertised).
  const registration =
    config.DYNAMIC_REGISTRATION === 'off'
      ? undefined
      : registrationRouter({ registration: deps.registration, limiter, policy: config.RATE_LIMIT_REGISTRATION });
  const pipelines = protocolPipelines({
    config,
    findClient: (id) => applications.clientMetadata(id),
    rememberedClient: (id) => applications.clientMetadataRemembered(id),
    authenticator,
    apiTokens: {
      builtIn: config.API_RESOURCE,
      find: (identifier) => deps.apis.find(identifier),
      verify: (token, identifier) => oauthTokens.verifyFor(token, identifier),
    },
    limiter,
    onClientSecretChecked: (matched) => metrics.clientSecretChecked(matched),
    secretChecks,
    now,
    renderError: (ctx, status, title, message) => render.error(ctx, status, title, message),
    actOf: async (token) =>
      (await exchangeReader.subjectToken(provider, token))?.act as Record<string, unknown> | undefined,
    answerAsProvider: createProviderIntrospection({
      provider,
      mayIntrospect,
      subjectFor: (client, accountId) => subjectFor(client, keys.pairwiseKey, accountId),
    }),
  });

  const userinfo = userinfoEndpoint({
    authenticator,
    openIdGrant: createOpenIdGrants({ payloads: deps.payloads, now }),
    findAccount: (id) => accounts.findById(id),
    subjectFor: async (clientId, accountId) =>
      subjectFor(await provider.Client.find(clientId), keys.pairwiseKey, accountId),
    clientOrigins: async (clientId) =>
      ((await applications.clientMetadata(clientId))?.['redirect_uris'] as string[] | undefined)
        ?.filter((uri) => URL.canParse(uri))
        .map((uri) => new URL(uri).origin) ?? [],
    issuer: config.ISSUER,
  });

  // The built-in API's protected resource metadata (RFC 9728), at the well-known path of its own.
  const resourceMetadataUrl = protectedResourceMetadataUrl(config.API_RESOURCE);
  const protectedResource = {
    path: new URL(resourceMetadataUrl).pathname,
    app: serveProtectedResourceMetadata({ api: deps.apis.builtIn, issuer: config.ISSUER }),
  };

  /**
   * An audience's app behind its own access log, whose metrics label it is when no router template
   * matched, with the request id on its answer (`/v2` and `/oauth` put it there themselves:
   * `ownIdAudience`).
   */
  const audience = (label: string, app: Koa.Middleware<AppState>, opts: { quiet?: boolean } = {}) =>
    accessLog(logger, answerRequestId(app), httpMetrics(metrics, label), opts);
  const ownIdAudience = (label: string, app: Koa.Middleware<AppState>) =>
    accessLog(logger, app, httpMetrics(metrics, label));
  // Probes and scrapes come every few seconds: logged at debug, not info.
  const quiet = { quiet: true };
  const mounts = byPath(
    [
      { path: '/healthz', exact: true, app: audience('/healthz', opsApp(liveness(), { hsts }), quiet) },
      { path: '/readyz', exact: true, app: audience('/readyz', opsApp(readiness(deps), { hsts }), quiet) },
      {
        path: '/metrics',
        exact: true,
        app: audience('/metrics', opsApp(metricsEndpoint(metrics, { token: config.METRICS_TOKEN }), { hsts }), quiet),
      },
      { path: '/oauth/applications', app: audience('oauth', applicationsApp({ router: apps, accounts, hsts })) },
      {
        path: '/oauth',
        app: ownIdAudience(
          'oauth',
          oauthApp({ provider, pipelines, userinfo, render, accounts, issuer: config.ISSUER, hsts, registration }),
        ),
      },
      {
        path: '/device',
        app: audience(
          'device',
          deviceApp({
            provider,
            accounts,
            limiter,
            entryPolicy: config.RATE_LIMIT_DEVICE_CODE,
            render,
            issuer: config.ISSUER,
            secureCookies: config.secureCookies,
          }),
        ),
      },
      {
        path: '/.well-known',
        app: audience('oauth', wellKnownApp({ provider, issuer: config.ISSUER, hsts, protectedResource })),
      },
      {
        path: '/v2',
        app: ownIdAudience(
          'v2_other',
          v2App({
            router: v2,
            openApi,
            accounts,
            hsts,
            resourceMetadataUrl,
            origin,
            corsOriginAllowed: (o) => applications.browserOriginAllowed(o),
          }),
        ),
      },
      { path: '/static', app: audience('static', staticApp({ render, accounts, hsts })) },
      { path: '/admin', app: audience('admin', admin.app) },
    ],
    audience('other', pages.app),
  );

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
  // Answers whose head is gathered and written in one step (answer-head.ts) gather Koa's fields too.
  gatherFieldsIntoAnswerHead(app.response);
  app.use(requestFrame({ logger }));
  if (config.LATCHKEY_DEBUG_PID) app.use(exposePid());
  app.use(mounts);

  return {
    app,
    provider,
    openApi,
    routers: [...pages.routers, ...admin.routers, apps, v2, ...(registration ? [registration] : [])],
  };
}
