import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { ADMIN_SCOPE, ALL_API_SCOPES } from '../domain/scopes.ts';
import type { AccountsService } from '../features/accounts/accounts.service.ts';
import {
  clientSecretAccepted,
  PREVIOUS_SECRET,
  REQUIRE_PKCE,
  REVIEW_STATE,
  RESOURCE_SERVER_API,
} from '../features/applications/applications.service.ts';
import type { ConsentsService, TokenReuse } from '../features/consents/consents.service.ts';
import type { ServerKeys } from './keys.ts';
import type { Standing } from '../auth/account-rights.ts';
import type { Adapter } from 'oidc-provider';
import { GRANT_CLAIM } from '../auth/oauth-tokens.ts';
import { DPOP_SIGNING_ALGS } from '../auth/dpop-proof.ts';
import { sha256 } from '../shared/secrets.ts';
import { providerErrorPage } from './error-pages.ts';
import { keepProviderStoreOff } from './provider-store.ts';
import { SCOPE_CLAIMS, SIGN_IN_CLAIMS, accountClaims } from './claims.ts';
import { dashboardSignInTooOld, hintNamesAnother } from './dashboard-login.ts';
import { subjectFor } from './pairwise.ts';
import { type DevicePage, deviceFlowPages } from './device-pages.ts';

import {
  TOKEN_EXCHANGE_GRANT,
  TOKEN_EXCHANGE_PARAMS,
  tokenExchangeGrant,
  type TokenExchangeDeps,
} from './token-exchange.ts';
import type { ResourceServer } from '../domain/resource-servers.ts';
import type { IntrospectingClient, IntrospectionPolicy } from './introspection-policy.ts';
import type { AppContext } from '../http/context.ts';
import { provenanceOf } from '../http/request-facts.ts';
import { timeOrderIds } from './time-ordered-ids.ts';

/** The reason the login prompt gives for an account whose address is not verified yet (interactions.ts). */
export const EMAIL_NOT_VERIFIED = 'email_not_verified';
/** The reason the login prompt gives for a `login_hint` naming another account than the session's. */
const LOGIN_HINT_OTHER_ACCOUNT = 'login_hint_other_account';
/** The reason for a dashboard sign-in older than `max_age`, counted in milliseconds (dashboard-login.ts). */
const MAX_AGE_EXCEEDED = 'max_age_exceeded';

export interface ProviderDeps {
  config: Config;
  keys: ServerKeys;
  adapter: (model: string) => Adapter;
  accounts: AccountsService;
  consents: ConsentsService;
  logger: Logger;
  /** What the token exchange grant reads (absent: the grant is known, for validation, but refuses). */
  tokenExchange?: TokenExchangeDeps;
  /** The API (resource server) an RFC 8707 `resource` names, the built-in one included; undefined: none. */
  findApi(identifier: string): Promise<ResourceServer | undefined>;
  /** The APIs owning any of these scope names (a request without `resource` is for them). */
  findApisByScopes(names: readonly string[]): Promise<ResourceServer[]>;
  /** Who may learn about a token at introspection (introspection-policy.ts). */
  mayIntrospect: IntrospectionPolicy;
  /**
   * Whether an account exists and is not disabled, as every credential reads it (auth/account-rights.ts:
   * remembered briefly, forgotten at once when the account changes, here or on another instance).
   */
  accountActive(accountId: string): Promise<boolean>;
  /**
   * The standing of an application's owner now (null: no owner): client_credentials tokens act as
   * the owner, so they carry admin:all only while the owner is an admin and are refused while the
   * owner is disabled. One lookup answers both (auth/account-rights.ts).
   */
  ownerStanding(clientId: string): Promise<Standing | null>;
  /** Renders oidc-provider's HTML errors (bad redirect_uri, unknown client ...) as our error page. */
  renderError(ctx: KoaContextWithOIDC, title: string, message: string, developerHint?: string): Promise<void>;
  /**
   * The answer for a client secret the request being answered already compared with this stored
   * hash (the token pipeline's authenticateClientOnce), or undefined: then the provider compares it itself.
   */
  secretCheckedEarlier?(clientId: string, presented: string, storedHash: string): boolean | undefined;
  /** Told of every client secret the provider compares itself (metrics). */
  onClientSecretChecked?(matched: boolean): void;
  /** The expiry (epoch seconds) of a grant read or written lately (the adapter's grantExpiries). */
  grantExpiry?(grantId: string): number | undefined;
  /** The time now (epoch ms): a rotated client secret's overlap ends by it. */
  now?(): number;
  /**
   * Renders RP-initiated logout's pages with our layout: the confirmation (a form posting `xsrf`,
   * and `logout=yes` to end the whole sign-in, to `action`) and the page after signing out.
   */
  renderLogout?(ctx: KoaContextWithOIDC, page: LogoutPage): Promise<void>;
  /** Sends one application its logout token (oidc/backchannel-logout.ts): ours, through the SSRF guard. */
  sendLogoutToken?(target: LogoutTarget, sub: string, sid: string | undefined): Promise<void>;
  /** Renders the device flow's pages at /device with our layout (oidc/device-pages.ts). */
  renderDevice?(ctx: KoaContextWithOIDC, page: DevicePage): Promise<void>;
}

export type LogoutPage =
  | { kind: 'confirm'; action: string; xsrf: string; accountId: string; clientName: string | null }
  | { kind: 'done'; clientName: string | null };

/** An application to tell of a sign-out that ended: where, and whether it needs the session id. */
export interface LogoutTarget {
  clientId: string;
  backchannelLogoutUri: string;
}

/** The API scopes an application was registered with (kept in extra client metadata). */
export function allowedScopesOf(client: { [key: string]: unknown } | undefined): string[] {
  const scopes = client?.['latchkey_scopes'];
  return Array.isArray(scopes) ? (scopes as string[]) : [];
}

const DAY = 86_400;
/** Lifetime of ID tokens, seconds (also how long a retired signing key stays published, at least). */
export const ID_TOKEN_TTL = 3600;

/** The scopes a request (authorization or token) names. */
function requestedScopes(ctx: { oidc?: { params?: Record<string, unknown> } }): string[] {
  return String(ctx.oidc?.params?.['scope'] ?? '')
    .split(' ')
    .filter(Boolean);
}

/** OpenID scopes any application may ask for alongside its API scopes. */
export const OIDC_SCOPES = new Set(['openid', 'offline_access', 'email', 'profile']);

/**
 * OpenID Connect's standard scopes for data Latchkey does not hold (a postal address, a phone
 * number): asked for, they are ignored, as Core §5.4 says of scopes not understood, rather than
 * failing the sign-in; they release nothing and are not advertised.
 */
const UNHELD_OIDC_SCOPES = new Set(['address', 'phone']);

/** The OpenID scopes a person's access token carries beside its API scopes (what userinfo answers). */
const TOKEN_OIDC_SCOPES = Object.keys(SCOPE_CLAIMS);

/**
 * oidc-provider, configured as Latchkey's authorization server. Endpoints live under /oauth; the
 * /v2 API is the default resource and its scopes are granted per application (see
 * getResourceServerInfo); refresh tokens are issued on every code exchange and rotated on use.
 */
export function createProvider(deps: ProviderDeps): Provider {
  const { config, keys, accounts, consents, logger } = deps;
  const apiResource = config.API_RESOURCE;

  // An API's scope names as a set, made once per API object (the built-in API is one object for
  // the process; a registered one is read afresh, and its set goes with it).
  const scopeNames = new WeakMap<ResourceServer, ReadonlySet<string>>();
  function scopeNamesOf(api: ResourceServer): ReadonlySet<string> {
    let names = scopeNames.get(api);
    if (!names) {
      names = new Set(api.scopes.map((s) => s.name));
      scopeNames.set(api, names);
    }
    return names;
  }

  /**
   * The resource a request is for when it names none. With several granted (a token request after
   * an authorization for several APIs): the built-in API when it is one of them, else the client
   * must choose (invalid_target). Otherwise the APIs whose scopes the request names, when it names
   * any of another API's; the built-in API when it names none (every client written before APIs).
   */
  async function defaultResourceOf(ctx: KoaContextWithOIDC, oneOf?: string[]): Promise<string | string[]> {
    if (oneOf) return oneOf.includes(apiResource) ? apiResource : oneOf;
    const named = requestedScopes(ctx).filter((s) => !OIDC_SCOPES.has(s) && !UNHELD_OIDC_SCOPES.has(s));
    const apis = await deps.findApisByScopes(named);
    if (!apis.some((api) => !api.builtIn)) return apiResource;
    const identifiers = apis.map((api) => api.identifier);
    return identifiers.length === 1 ? identifiers[0]! : identifiers;
  }

  const configuration: Configuration = {
    adapter: deps.adapter,
    clients: [],
    jwks: keys.jwks,
    cookies: {
      keys: keys.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, signed: true },
    },
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      introspection: '/oauth/introspect',
      revocation: '/oauth/revoke',
      jwks: '/oauth/jwks',
      pushed_authorization_request: '/oauth/par',
      // Disabled features below; their routes are moved under /oauth all the same.
      end_session: '/oauth/logout',
      userinfo: '/oauth/userinfo',
      registration: '/oauth/register',
      // RFC 8628's verification_uri is a page people type: short, at the root (http/apps/device.ts).
      code_verification: '/device',
      device_authorization: '/oauth/device/auth',
      backchannel_authentication: '/oauth/backchannel',
      challenge: '/oauth/challenge',
      credential: '/oauth/credential',
    },
    responseTypes: ['code'],
    discovery: {
      claim_types_supported: ['normal'],
      // Request objects are refused (request_not_supported): said here, not left to a default.
      request_parameter_supported: false,
      // The pages are in English only; ui_locales is accepted and this is the one it can honour.
      ui_locales_supported: ['en'],
      // Our endpoint (features/registration), not oidc-provider's: advertised exactly when it is on.
      ...(config.DYNAMIC_REGISTRATION === 'off' ? {} : { registration_endpoint: `${config.ISSUER}/oauth/register` }),

      // Said, not left out: PAR is optional unless an application requires it (RFC 9126 §5).
      require_pushed_authorization_requests: false,
    },
    // client_secret_jwt and HS* would need the plain secret; Latchkey stores only its hash.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      // The two keys the server holds (keys.ts); ID_TOKEN_SIGNING_ALG picks which signs.
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      // The same list /v2 checks proofs with (auth/dpop-proof.ts).
      dPoPSigningAlgValues: [...DPOP_SIGNING_ALGS],
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: config.ID_TOKEN_SIGNING_ALG,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    extraClientMetadata: {
      properties: [
        'latchkey_type',
        'latchkey_scopes',
        RESOURCE_SERVER_API,
        PREVIOUS_SECRET,
        REQUIRE_PKCE,
        REVIEW_STATE,
      ],
    },
    // The sign-in claims ride with openid, so every ID token says when and how the person signed in.
    claims: { ...SCOPE_CLAIMS, openid: [...SCOPE_CLAIMS.openid, ...SIGN_IN_CLAIMS] },
    // Claims a grant put on the token before saving it: token exchange's `act` (RFC 8693 §4.1).
    extraTokenClaims: (_ctx, token) => (token as { extra?: Record<string, unknown> }).extra,
    // A JWT access token names its grant (hashed), so revoking the grant ends it at once.
    formats: {
      customizers: {
        jwt: (_ctx, token, jwt) => {
          const grantId = (token as { grantId?: string }).grantId;
          if (grantId) jwt.payload[GRANT_CLAIM] = sha256(grantId);
        },
      },
    },
    scopes: [...OIDC_SCOPES],
    // Per application (REQUIRE_PKCE, on unless a confidential web application turned it off); a
    // public client always: PKCE is all that binds its code to it.
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' || client[REQUIRE_PKCE] !== false },
    // The sector is the host of the application's redirect URIs (applications.service.ts makes
    // a pairwise application keep them on one host); oidc-provider applies it to the ID token,
    // the claims checks and JWT access tokens' `sub`; our userinfo (userinfo.ts) uses subjectFor too.
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, client) => subjectFor(client, keys.pairwiseKey, accountId),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // An application may revoke only tokens issued to itself (RFC 7009 §2.1).
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      // Enabled for what it turns on (userinfo_endpoint in discovery, the `claims` parameter's
      // userinfo member); the endpoint that answers is ours (oidc/userinfo.ts, mounted in front):
      // oidc-provider's refuses every token with an audience, and every Latchkey access token has one.
      userinfo: { enabled: true },
      claimsParameter: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Our pages, not oidc-provider's: its form is rebuilt from the same action and xsrf secret.
        logoutSource: async (ctx) => {
          const session = ctx.oidc.session!;
          await deps.renderLogout?.(ctx, {
            kind: 'confirm',
            action: ctx.oidc.urlFor('end_session_confirm'),
            xsrf: String(session.state?.['secret'] ?? ''),
            accountId: String(session.accountId),
            clientName: clientNameOf(ctx.oidc.client),
          });
        },
        postLogoutSuccessSource: async (ctx) => {
          await deps.renderLogout?.(ctx, { kind: 'done', clientName: clientNameOf(ctx.oidc.client) });
        },
      },
      // Logout tokens go out through our sender (Client.prototype.backchannelLogout below), which
      // every other way a sign-in ends uses as well.
      backchannelLogout: { enabled: true },
      // RFC 8628: user codes like BCDF-GHJK (no vowels, so no words; no look-alike digits), read
      // back case-insensitively with or without the dash; the pages are ours (device-pages.ts).
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        ...deviceFlowPages((ctx, page) => deps.renderDevice?.(ctx, page) ?? Promise.resolve()),
      },
      // RFC 9126: optional, or required per application (its require_pushed_authorization_requests).
      // A request_uri lives 60 seconds (oidc-provider's most) and is consumed by the code it yields.
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      // RFC 9449: a token request with a proof gets tokens bound to its key (cnf.jkt), which /v2
      // and introspection then accept only with a proof of that key (auth/dpop-proof.ts). Proofs
      // at the token and PAR endpoints must carry a server nonce (derived from a stored secret, so
      // every instance accepts every other's), which bounds how far ahead a proof can be made.
      dPoP: { enabled: true, nonceSecret: keys.dpopNonceKey, requireNonce: () => true, allowReplay: false },
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => deps.mayIntrospect(client as IntrospectingClient, token),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, _client, oneOf) => defaultResourceOf(ctx, oneOf ? [...oneOf] : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: async (ctx, resource, client) => {
          const api = await deps.findApi(resource);
          if (!api) throw new errors.InvalidTarget();
          // An application may request only the scopes it registered (RFC 6749 §3.3: refuse,
          // rather than silently dropping them as oidc-provider would); a client_credentials
          // token acts as the owner, so never with admin:all unless the owner is an admin now.
          let registered = allowedScopesOf(client);
          const clientCredentials = ctx.oidc?.params?.['grant_type'] === 'client_credentials';
          if (clientCredentials) {
            const owner = await deps.ownerStanding(client.clientId);
            if (owner?.disabled) throw new errors.UnauthorizedClient("the application's owner is disabled");
            if (owner?.rights?.isAdmin !== true) registered = registered.filter((s) => s !== ADMIN_SCOPE);
          }
          // An application registers a handful of scopes: a list search, no Set per request.
          const requested = requestedScopes(ctx);
          const refused = requested.filter(
            (s) => !OIDC_SCOPES.has(s) && !UNHELD_OIDC_SCOPES.has(s) && !registered.includes(s),
          );
          if (refused.length) {
            throw new errors.InvalidScope(
              `scope not allowed for this application: ${refused.join(' ')}`,
              refused.join(' '),
            );
          }
          // A token is for one API and carries that API's scopes only (of those the application
          // registered); the application's scopes of other APIs go into their own tokens.
          const own = scopeNamesOf(api);
          const scopes = registered.filter((s) => own.has(s));
          // A person's token for the built-in API also carries the OpenID scopes of the sign-in
          // (openid, profile, email), as Auth0's do: /oauth/userinfo reads from the token what
          // it was issued for.
          const openId = api.builtIn && !clientCredentials ? TOKEN_OIDC_SCOPES : [];
          return {
            scope: [...scopes, ...openId].join(' '),
            audience: api.identifier,
            accessTokenTTL: api.accessTokenTtl,
            ...(api.accessTokenFormat === 'jwt'
              ? { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
              : { accessTokenFormat: 'opaque' }),
          };
        },
      },
    },
    // Refresh tokens on every code exchange for apps allowed the grant, independent of the
    // browser session, rotated on every use (reuse outside the grace window revokes the grant).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      DeviceCode: config.DEVICE_CODE_TTL,
      IdToken: ID_TOKEN_TTL,
      // Never past the grant's end: a rotation must not outlive the authorization. oidc-provider
      // hands TTL functions the request from the store provider-store.ts keeps off, so the grant's
      // end comes from the grants read or written lately (its own request just read it).
      RefreshToken: (ctx, token) =>
        cappedByGrant(
          config.REFRESH_TOKEN_TTL,
          ctx?.oidc?.entities?.Grant ?? { exp: token.grantId ? deps.grantExpiry?.(token.grantId) : undefined },
        ),
      Interaction: 3600,
      Session: 14 * DAY,
      // The authorization itself: its refresh token chain (and the remembered consent) ends with it.
      Grant: config.REFRESH_TOKEN_ABSOLUTE_TTL,
    },
    findAccount: async (_ctx, sub) => {
      // A disabled account gets no new tokens: codes and refresh tokens naming it are refused.
      if (!(await deps.accountActive(sub))) return undefined;
      return {
        accountId: sub,
        // Read only when a token or an ID token carries them (a refresh for an API does not).
        claims: async () => {
          const account = await accounts.findById(sub);
          return account ? accountClaims(account) : { sub };
        },
      };
    },
    // Consent survives the browser session: fall back to the grant remembered for (user, client).
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const clientId = oidc.client!.clientId;
      let grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(clientId);
      if (!grantId && oidc.session?.accountId) {
        grantId = await consents.grantIdFor(oidc.session.accountId, clientId);
      }
      if (!grantId) return undefined;
      const grant = await oidc.provider.Grant.find(grantId);
      // A grant belongs to one account; never reuse another's.
      return grant && grant.accountId === oidc.session?.accountId ? grant : undefined;
    },
    clientBasedCORS: (_ctx, origin, client) =>
      origin !== 'null' &&
      (client.redirectUris ?? []).some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    renderError: async (ctx, out, error) => {
      const description = typeof out.error_description === 'string' ? out.error_description : undefined;
      const page = providerErrorPage(String(out.error), description, (error as { name?: string } | undefined)?.name);
      await deps.renderError(ctx, page.title, page.message, page.developerHint);
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: signInPolicy(config.REQUIRE_EMAIL_VERIFICATION, accounts),
    },
  };

  keepProviderStoreOff(configuration.features ?? {});
  const provider = new Provider(config.ISSUER, configuration);
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    deps.tokenExchange
      ? tokenExchangeGrant(provider, deps.tokenExchange)
      : async () => {
          throw new errors.UnsupportedGrantType();
        },
    TOKEN_EXCHANGE_PARAMS,
  );

  timeOrderIds(provider, deps.now ?? Date.now);

  // Stored secrets are hashes (see applications.service.ts); compare what the client presents,
  // unless the request already did.
  provider.Client.prototype.compareClientSecret = async function compare(
    this: { clientId: string; clientSecret?: string; [PREVIOUS_SECRET]?: unknown },
    actual: string,
  ) {
    if (typeof this.clientSecret !== 'string') return false;
    const earlier = deps.secretCheckedEarlier?.(this.clientId, actual, this.clientSecret);
    if (earlier !== undefined) return earlier;
    const client = { client_secret: this.clientSecret, [PREVIOUS_SECRET]: this[PREVIOUS_SECRET] };
    const matched = clientSecretAccepted(actual, client, (deps.now ?? Date.now)());
    deps.onClientSecretChecked?.(matched);
    return matched;
  };

  // RP-initiated logout tells the session's applications through the same sender and SSRF guard
  // as every other sign-out, not oidc-provider's own fetch.
  provider.Client.prototype.backchannelLogout = async function send(
    this: { clientId: string; backchannelLogoutUri?: string },
    sub: string,
    sid: string,
  ) {
    if (!this.backchannelLogoutUri) return;
    await deps.sendLogoutToken?.(
      { clientId: this.clientId, backchannelLogoutUri: this.backchannelLogoutUri },
      sub,
      sid,
    );
  };

  // RFC 8628 §3.2: the device is told how long to wait between polls (token-pipeline.ts enforces it).
  provider.on('device_authorization.success', (_ctx: unknown, body: Record<string, unknown>) => {
    body['interval'] = config.DEVICE_POLL_INTERVAL;
  });

  provider.on('grant.revoked', (ctx: KoaContextWithOIDC | undefined, grantId: string) => {
    consents
      .forgetGrant(grantId, tokenReuseIn(ctx))
      .catch((err) => logger.error({ err }, 'could not forget revoked grant'));
  });
  // The request's own logger when there is one, so the line carries the request id.
  provider.on('server_error', (ctx: { state?: { log?: Logger } } | undefined, err: Error) =>
    (ctx?.state?.log ?? logger).error({ err }, 'oidc-provider server error'),
  );

  return provider;
}

/**
 * The token endpoint revokes a grant for one reason only: a single-use token of it (a rotated
 * refresh token past its grace window, an authorization or device code) was presented again.
 * Elsewhere (revocation, logout) a revoked grant is an ordinary ending, not reuse.
 */
function tokenReuseIn(ctx: KoaContextWithOIDC | undefined): TokenReuse | null {
  const oidc = ctx?.oidc;
  if (oidc?.route !== 'token' || !oidc.client) return null;
  const entities = oidc.entities as { RefreshToken?: { accountId?: string }; Grant?: { accountId?: string } };
  return {
    clientId: oidc.client.clientId,
    accountId: entities.RefreshToken?.accountId ?? entities.Grant?.accountId ?? null,
    grantType: String(oidc.params?.['grant_type'] ?? ''),
    by: provenanceOf(ctx as unknown as AppContext),
  };
}

/**
 * oidc-provider's prompts, plus three checks. A dashboard sign-in older than `max_age` asks again
 * (counted in milliseconds, where oidc-provider counts seconds). A `login_hint` naming another email than the session's
 * account asks for the sign-in form (pre-filled with the hint; `prompt=none` gets login_required):
 * the application wants that person, not whoever this browser signed in as. And when
 * REQUIRE_EMAIL_VERIFICATION is on, a browser whose provider session is an account with an
 * unverified address is sent to the login prompt (the sign-in page then says "verify your email
 * first"; `prompt=none` gets login_required), however that session was made.
 */
function signInPolicy(requireVerification: boolean, accounts: Pick<AccountsService, 'findById'>) {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  const { Check } = interactionPolicy;
  policy.add(selectAccountPrompt(), 0);
  login.checks.add(
    new Check(LOGIN_HINT_OTHER_ACCOUNT, 'login_hint names another account', 'login_required', async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || ctx.oidc.params?.['login_hint'] === undefined) return Check.NO_NEED_TO_PROMPT;
      const account = await accounts.findById(accountId);
      return !account || hintNamesAnother(ctx.oidc.params['login_hint'], account.email)
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT;
    }),
  );
  login.checks.add(
    new Check(MAX_AGE_EXCEEDED, 'End-User authentication is older than max_age', 'login_required', (ctx) =>
      dashboardSignInTooOld(ctx, Date.now()) ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  if (!requireVerification) return policy;
  login.checks.add(
    new Check(EMAIL_NOT_VERIFIED, 'The account has not verified its email address', 'login_required', async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId) return Check.NO_NEED_TO_PROMPT;
      const account = await accounts.findById(accountId);
      return account && !account.emailVerified ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}

function clientNameOf(client: { clientName?: unknown } | undefined): string | null {
  return typeof client?.clientName === 'string' ? client.clientName : null;
}

/**
 * `prompt=select_account`: "Continue as X, or use another account" (interactions.ts). Asked only of
 * a browser already signed in, and not right after a sign-in in this same request: someone who just
 * typed their password has chosen. Without a session the login prompt asks who it is instead.
 */
export const SELECT_ACCOUNT = 'select_account';
function selectAccountPrompt() {
  const { Check, Prompt } = interactionPolicy;
  const prompt = new Prompt(
    { name: SELECT_ACCOUNT, requestable: true },
    new Check('select_account_signed_in', 'account selection was requested', 'account_selection_required', (ctx) => {
      const { oidc } = ctx;
      const asked = oidc.prompts.has(SELECT_ACCOUNT) && oidc.promptPending(SELECT_ACCOUNT);
      return asked && oidc.session?.accountId && !oidc.result?.['login']
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT;
    }),
  );
  // Requestable adds a check asking whenever the parameter names it; ours above says when.
  prompt.checks.remove('select_account_prompt');
  return prompt;
}

/** `ttl` seconds, or fewer so as to end with `grant` (oidc-provider's clock, epoch seconds). */
function cappedByGrant(ttl: number, grant: { exp?: number } | undefined): number {
  if (typeof grant?.exp !== 'number') return ttl;
  return Math.max(1, Math.min(ttl, grant.exp - Math.floor(Date.now() / 1000)));
}

/** Every API scope except admin:all, which only admins may grant. */
export function grantableScopes(requested: string[], isAdmin: boolean): string[] {
  return requested.filter((s) => ALL_API_SCOPES.includes(s as never) && (isAdmin || s !== ADMIN_SCOPE));
}
