import type { Infra } from './boot/prepare.ts';
import {
  createAccountsRepo,
  createBrowserSessionsRepo,
  type BrowserSessionsRepo,
} from './features/accounts/accounts.repo.ts';
import { createAccountsService, type AccountsService } from './features/accounts/accounts.service.ts';
import { createPasswordHasher } from './features/accounts/passwords.ts';
import { createPasswordPolicy } from './features/accounts/password-policy.ts';
import { createApplicationsRepo } from './features/applications/applications.repo.ts';
import { createApplicationsService, type ApplicationsService } from './features/applications/applications.service.ts';
import { createRegistrationRepo } from './features/registration/registration.repo.ts';
import { createRegistrationService, type RegistrationService } from './features/registration/registration.service.ts';
import { createConsentsRepo } from './features/consents/consents.repo.ts';
import { createConsentsService, type ConsentsService } from './features/consents/consents.service.ts';
import { createPayloadsRepo, type PayloadsRepo, type StoredPayload } from './oidc/payloads.repo.ts';
import { createClientMetadataValidator, type ClientMetadataValidator } from './oidc/client-metadata-validator.ts';
import type { StandingGrant } from './oidc/grant-standing.ts';
import { startHousekeeping } from './housekeeping.ts';
import { createApiKeysRepo } from './features/api-keys/api-keys.repo.ts';
import { createApiKeysService, type ApiKeysService } from './features/api-keys/api-keys.service.ts';
import { createUsersService, type UsersService } from './features/users/users.service.ts';
import {
  createBackchannelLogout,
  endedSignInOf,
  type BackchannelLogout,
  type PostForm,
} from './oidc/backchannel-logout.ts';
import { createProjectsRepo } from './features/projects/projects.repo.ts';
import { createProjectsService, type ProjectsService } from './features/projects/projects.service.ts';
import { createSharedJwtVerifier, type SharedJwtVerifier } from './auth/shared-jwt.ts';
import { createMemoryStore, type RateLimitStore } from './features/rate-limit/store.ts';
import { createRateLimiter, type RateLimiter } from './features/rate-limit/rate-limiter.ts';
import { createLoginThrottle, type LoginThrottle } from './features/rate-limit/login-throttle.ts';
import { createLogin, type Login } from './features/accounts/login.ts';
import { createTwoFactorRepo } from './features/accounts/two-factor.repo.ts';
import { createTwoFactorService, type TwoFactorService } from './features/accounts/two-factor.service.ts';
import { createSecretBox, type SecretBox } from './shared/encryption.ts';
import { createWebhooksRepo } from './features/webhooks/webhooks.repo.ts';
import { createWebhooksService, type WebhooksService } from './features/webhooks/webhooks.service.ts';
import { createWebhookWorker, type WebhookWorker } from './features/webhooks/worker.ts';
import { createDeliver, type Deliver } from './features/webhooks/deliver.ts';
import { createMetrics, type Metrics } from './http/metrics.ts';
import { createTtlCache, type TtlCache } from './shared/ttl-cache.ts';
import { createCredentialEvents, type CredentialEvents } from './shared/credential-events.ts';
import type { Credential } from './domain/credential.ts';
import { createAccountRights, type AccountRightsLookup } from './auth/account-rights.ts';
import { ADMIN_SCOPE } from './domain/scopes.ts';
import { createEmail, type Email } from './features/email/email.ts';
import { createEmailLinksRepo } from './features/accounts/email-links.repo.ts';
import { createEmailLinks, type EmailLinks } from './features/accounts/email-links.ts';
import { createSecurityNotices, type SecurityNotices } from './features/accounts/security-notices.ts';
import { createEmailChange, type EmailChange } from './features/accounts/email-change.ts';
import { createAccountExport, type AccountExporter } from './features/users/account-export.ts';
import { createShownOnceRepo } from './features/shown-once/shown-once.repo.ts';
import { createShownOnceService, type ShownOnceService } from './features/shown-once/shown-once.service.ts';
import { createPasskeysRepo } from './features/passkeys/passkeys.repo.ts';
import { createPasskeysService, relyingPartyOf, type PasskeysService } from './features/passkeys/passkeys.service.ts';
import { createEmailVerification, type EmailVerification } from './features/accounts/email-verification.ts';
import { createPasswordReset, type PasswordReset } from './features/accounts/password-reset.ts';
import { createSetupRepo } from './features/setup/setup.repo.ts';
import { createSetupService, type SetupService } from './features/setup/setup.service.ts';

import { createApisRepo } from './features/apis/apis.repo.ts';
import { createAudit, outsideRequests, SYSTEM_ACTOR, type Audit } from './features/audit/audit.ts';
import { createAuditRepo, type AuditRepo } from './features/audit/audit.repo.ts';
import { createAuditTrailService, type AuditTrailService } from './features/audit-trail/audit-trail.service.ts';
import type { AuditActor, AuditRecord, Provenance } from './domain/audit.ts';
import { DISABLED_FAILING } from './domain/webhook-events.ts';
import { createApplicationSuspension, type ApplicationSuspension } from './features/applications/suspension.service.ts';
import { createApiKeysAdmin, type ApiKeysAdmin } from './features/api-keys/api-keys-admin.service.ts';
import { createWebhookHealthRepo } from './features/webhooks/health.repo.ts';
import { createWebhookHealth, type WebhookHealth } from './features/webhooks/health.service.ts';
import { builtInApi, createApisService, type ApisService } from './features/apis/apis.service.ts';
import { createUserAdminRepo } from './features/admin/user-admin.repo.ts';
import { createUserAdminService, type UserAdminService } from './features/admin/user-admin.service.ts';

export interface ServicesOptions {
  /** The clock (epoch ms); tests may pass their own. */
  now?: () => number;
  /** Where rate-limit counters live; in memory (one process) unless given. */
  rateLimitStore?: RateLimitStore;
  /** Sends one webhook; tests may pass a recording one. Default: HTTP with the SSRF guard. */
  deliver?: Deliver;
  /** Prometheus metrics (a fresh registry unless given). */
  metrics?: Metrics;
  /** Credential changes, heard by every cache (in this process only, unless a relay is attached). */
  credentialEvents?: CredentialEvents;
  /** oidc-provider's check of client metadata; by default a private provider loaded on first use. */
  validateClientMetadata?: ClientMetadataValidator;
  /** Where mail without EMAIL_URL is written; `mail/` in the data folder unless given. */
  mailDir?: string;
  /** Posts one logout token; tests may pass their own. Default: HTTP with the SSRF guard. */
  postLogoutToken?: PostForm;
  /** Who the audit trail says acted on changes made outside a request: the server, or the CLI's operator. */
  actorOutsideRequests?: AuditActor;
}

/** A back-channel logout receiver gets 3 s to answer (1 s to accept the connection): the person waits. */
const LOGOUT_TIMEOUTS = { timeoutMs: 3_000, connectTimeoutMs: 1_000 };

/** Repositories, rules and the background work around them: everything Latchkey does, without HTTP. */
export interface Services {
  now: () => number;
  metrics: Metrics;
  credentialEvents: CredentialEvents;
  /** Publishes "tokens revoked": every cache of checked tokens forgets what it holds. */
  tokensRevoked: () => void;
  // Checked credentials, trusted for CREDENTIAL_CACHE_TTL; emptied by credential events.
  oauthTokenCache: TtlCache<Credential>;
  sharedJwtCache: TtlCache<Credential>;
  tokenRowCache: TtlCache<StoredPayload | null>;
  grantStandingCache: TtlCache<StandingGrant | null>;
  payloads: PayloadsRepo;
  browserSessions: BrowserSessionsRepo;
  accounts: AccountsService;
  accountRights: AccountRightsLookup;
  projects: ProjectsService;
  apiKeys: ApiKeysService;
  box: SecretBox;
  /** Secrets made by a dashboard form, held for the one page view that shows them. */
  shownOnce: ShownOnceService;
  webhooks: WebhooksService;
  /** Delivers the webhook outbox; the server starts it, the CLI does not. */
  webhookWorker: WebhookWorker;
  /** Queues mail (`mail.enqueue`); never sends inside a request. */
  mail: Email['mail'];
  /** Sends the email outbox; the server starts it, the CLI does not. */
  mailWorker: Email['worker'];
  /** The email outbox's records (what was sent, retried, given up). */
  mailOutbox: Email['repo'];
  /** Where mail goes: the SMTP URL with its password masked, or the folder of .eml files. */
  mailDestination: string;
  /** Single-use links sent by email (verification, password reset, change of address). */
  emailLinks: EmailLinks;
  /** Tells an account's owner by email about changes to its security. */
  securityNotices: SecurityNotices;
  /** Sign-up's verification link (or "someone tried your address"), and proving an address. */
  emailVerification: EmailVerification;
  /** "Forgot password?": a link by email, then a new password that ends every session. */
  passwordReset: PasswordReset;
  consents: ConsentsService;
  applications: ApplicationsService;
  /** Dynamic client registration (RFC 7591/7592) and the initial access tokens admins issue. */
  registration: RegistrationService;

  /** APIs (resource servers): the built-in /v2 API and those owners register. */
  apis: ApisService;
  users: UsersService;
  /** The console's Users section and /v2/admin/users: disable, enable, reset 2FA, roles... */
  userAdmin: UserAdminService;
  /** Moving an account to a new email address, proven by a link sent to it. */
  emailChange: EmailChange;
  /** An account's data, for its owner to download. */
  accountExport: AccountExporter;
  /** Verifies (and, for the CLI, signs) shared-secret JWTs; null without JWT_SECRET. */
  sharedJwt: SharedJwtVerifier | null;
  rateLimitStore: RateLimitStore;
  limiter: RateLimiter;
  twoFactor: TwoFactorService;
  /** Passkeys (WebAuthn) of the accounts; the relying party is ISSUER's hostname and origin. */
  passkeys: PasskeysService;
  loginThrottle: LoginThrottle;
  login: Login;
  /** Tells applications (back-channel logout) that sign-ins to them ended. */
  backchannelLogout: BackchannelLogout;
  /** First-run setup: the single-use link that creates the owner account while no admin exists. */
  setup: SetupService;
  /** Builds audit records, which services write with their changes. */
  audit: Audit;
  /** The audit trail: appending events that change nothing else, reading pages of it, retention. */
  auditLog: AuditRepo;
  /** Reading the trail: a person's own, everyone's (filters, export), and retention. */
  auditTrail: AuditTrailService;
  /** Operators' view of every application: list, search, suspend and unsuspend. */
  applicationSuspension: ApplicationSuspension;
  /** Operators' list of every live API key. */
  apiKeysAdmin: ApiKeysAdmin;
  /** Every webhook endpoint and how its deliveries are going. */
  webhookHealth: WebhookHealth;
  /** Stops timers and the webhook and email workers, flushes buffered writes; the caller then closes the database. */
  stop(): Promise<void>;
}

/**
 * Wires repositories and services on a prepared database. Imports nothing of HTTP (no Koa, no
 * oidc-provider): the CLI uses this alone, and the HTTP app is built on top of it.
 */
export function createServices(infra: Omit<Infra, 'migrated'>, options: ServicesOptions = {}): Services {
  const { config, db, logger } = infra;
  const now = options.now ?? Date.now;
  const metrics = options.metrics ?? createMetrics();
  const cacheTtlMs = config.CREDENTIAL_CACHE_TTL * 1000;
  // Checked credentials, trusted for CREDENTIAL_CACHE_TTL; revocations in this process empty them.
  // Bounded by count and by bytes (token payloads are about a kilobyte each): together at most ~24 MiB.
  const MiB = 1024 * 1024;
  const oauthTokenCache = createTtlCache<Credential>({ ttlMs: cacheTtlMs, max: 10_000, maxBytes: 4 * MiB, now });
  const sharedJwtCache = createTtlCache<Credential>({ ttlMs: cacheTtlMs, max: 10_000, maxBytes: 4 * MiB, now });
  const tokenRowCache = createTtlCache<StoredPayload | null>({
    ttlMs: cacheTtlMs,
    max: 20_000,
    maxBytes: 16 * MiB,
    now,
  });
  const grantStandingCache = createTtlCache<StandingGrant | null>({ ttlMs: cacheTtlMs, max: 20_000, now });
  // Every cache of checked credentials forgets what a change names, whichever instance made it.
  const credentialEvents = options.credentialEvents ?? createCredentialEvents();
  credentialEvents.subscribe((event) => {
    // Token caches are not indexed by grant, application or account: any of those empties them.
    oauthTokenCache.clear();
    tokenRowCache.clear();
    grantStandingCache.clear();
    if (event.kind === 'account') sharedJwtCache.deleteWhere((c) => c.userId === event.id);
  });
  const tokensRevoked = () => credentialEvents.publish({ kind: 'tokens' });
  // The audit trail: services add its records to the events of their changes.
  const audit = createAudit({ now });
  // Who acts in what the services start on their own (a failing webhook endpoint, a scheduled rotation).
  const outside = outsideRequests(options.actorOutsideRequests ?? SYSTEM_ACTOR);
  const auditLog = createAuditRepo(db);
  const signInTrail = { audit, append: (records: AuditRecord[]) => auditLog.append(records) };

  // Mail, and what it carries for accounts: single-use links and security notices.
  const box = createSecretBox(infra.secretsKey);
  const email = createEmail({ config, db, box, logger, now, ...(options.mailDir ? { mailDir: options.mailDir } : {}) });
  const emailLinks = createEmailLinks({ repo: createEmailLinksRepo(db), now });
  const accountsRepo = createAccountsRepo(db);
  const securityNotices = createSecurityNotices({
    mail: email.mail,
    findAccount: (id) => accountsRepo.findById(id),
    logger,
    now,
  });
  const notify = securityNotices.notify;

  // Storage and rules.
  const payloads = createPayloadsRepo(db);
  const browserSessions = createBrowserSessionsRepo(db);
  const passwords = createPasswordHasher({ memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST });
  // Every way a sign-in ends tells the applications it reached (back-channel logout).
  const backchannelLogout = createBackchannelLogout({
    issuer: config.ISSUER,
    signingKey: infra.keys.jwks.keys.find((k) => k.alg === config.ID_TOKEN_SIGNING_ALG)!,
    logoutUriOf: async (clientId) =>
      (await applications.clientMetadata(clientId))?.['backchannel_logout_uri'] as string | undefined,
    // Through the webhooks' SSRF guard; a sign-out waits at most a few seconds for a slow receiver.
    post: options.postLogoutToken ?? createDeliver({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, ...LOGOUT_TIMEOUTS }),
    logger,
    now,
  });
  /** The provider sessions of an account that `ends` picks, ended, then told of. */
  const endSignIns = async (accountId: string, ends: (uidHash: string | null) => boolean, end: () => Promise<void>) => {
    const ending = (await payloads.sessionsOf(accountId)).filter((row) => ends(row.uid_hash));
    await end();
    await backchannelLogout.signInsEnded(ending.flatMap((row) => endedSignInOf(JSON.parse(row.payload)) ?? []));
  };
  const passwordPolicy = createPasswordPolicy();
  const accounts = createAccountsService({
    accounts: accountsRepo,
    sessions: browserSessions,
    providerSessions: {
      deleteByAccount: (id) =>
        endSignIns(
          id,
          () => true,
          () => payloads.deleteSessionsOf(id),
        ),
      deleteOne: (id, uidHash) =>
        endSignIns(
          id,
          (h) => h === uidHash,
          () => payloads.deleteSessionOf(id, uidHash),
        ),
      deleteAllBut: (id, keepUidHash) =>
        endSignIns(
          id,
          (h) => keepUidHash === null || h === null || h !== keepUidHash,
          () => payloads.deleteSessionsOfExcept(id, keepUidHash),
        ),
    },
    passwords,
    passwordPolicy,
    notify,
    audit,
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
    notify,
    audit,
  });

  const shownOnce = createShownOnceService({ repo: createShownOnceRepo(db), box, now });
  const webhooksRepo = createWebhooksRepo(db);
  const webhooks = createWebhooksService({
    repo: webhooksRepo,
    box,
    now,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP * 1000,
    maxEndpoints: config.WEBHOOK_MAX_ENDPOINTS,
    audit,
  });
  const webhookWorker = createWebhookWorker({
    repo: webhooksRepo,
    box,
    // A receiver gets 10 s to answer; an address that does not even accept the connection, 3 s.
    deliver:
      options.deliver ??
      createDeliver({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, timeoutMs: 10_000, connectTimeoutMs: 3_000 }),
    now,
    logger,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER * 1000,
    concurrency: config.WEBHOOK_CONCURRENCY,
    onAttempt: metrics.webhookDelivery,
    // The server disabling a failing endpoint is in its owner's trail, as their own changes are.
    disabledRecord: (endpoint) =>
      audit.event(
        'webhook_endpoint.changed',
        {
          account: endpoint.user_id,
          target: { type: 'webhook_endpoint', id: endpoint.id },
          data: { fields: ['status'], status: 'disabled', reason: DISABLED_FAILING, host: new URL(endpoint.url).host },
        },
        outside,
      ),
  });
  metrics.collectOutboxDepth(() => webhooksRepo.pendingCount());
  const consents = createConsentsService({ repo: createConsentsRepo(db), now, onRevoked: tokensRevoked, audit });
  const emailVerification = createEmailVerification({ accounts, links: emailLinks, mail: email.mail });
  const passwordReset = createPasswordReset({
    accounts,
    links: emailLinks,
    mail: email.mail,
    notify,
    // The reset link's holder acts: the page has no signed-in account, the link proves whose it is.
    revokeApplications: (id, by) => consents.revokeAll(id, by, { type: 'user', id, accountId: id, label: null }),
  });
  const apis = createApisService({
    repo: createApisRepo(db),
    now,
    builtIn: builtInApi({
      identifier: config.API_RESOURCE,
      accessTokenFormat: config.ACCESS_TOKEN_FORMAT,
      accessTokenTtl: config.ACCESS_TOKEN_TTL,
    }),
    issuer: config.ISSUER,
  });
  const validateClientMetadata = options.validateClientMetadata ?? createClientMetadataValidator(infra);
  const applications = createApplicationsService({
    repo: createApplicationsRepo(db),
    now,
    validateMetadata: (metadata) => validateClientMetadata(metadata),
    cacheTtlMs,
    events: credentialEvents,
    apis: {
      builtIn: config.API_RESOURCE,
      scopeOwners: (names) => apis.scopeOwners(names),
      ownerOf: (identifier) => apis.ownerOf(identifier),
    },
    apiExists: async (identifier) => (await apis.find(identifier)) !== undefined,
    audit,
  });
  const registration = createRegistrationService({
    repo: createRegistrationRepo(db),
    applications,
    mode: config.DYNAMIC_REGISTRATION,
    issuer: config.ISSUER,
    now,
    audit,
  });
  // A demoted admin keeps nothing that was granted as admin:all: its grants (with their refresh
  // tokens) and keys are revoked; every other credential loses it through its effective scopes.
  const onRightsChanged = async (id: string, { demoted }: { demoted: boolean }, by: Provenance) => {
    if (demoted) {
      await consents.revokeCarrying(id, ADMIN_SCOPE, by);
      await apiKeys.revokeCarrying(id, ADMIN_SCOPE, by);
    }
    credentialEvents.publish({ kind: 'account', id });
  };
  const userAdminRepo = createUserAdminRepo(db);
  const users = createUsersService({
    repo: accountsRepo,
    accounts,
    now,
    audit,
    hasOtherActiveAdmin: (id) => userAdminRepo.hasOtherActiveAdmin(id),
    onDeleted: (id) => credentialEvents.publish({ kind: 'account', id }),
    // The account's sign-ins end with it: read them first, tell their applications after.
    signInsEnding: async (id) => {
      const ending = (await payloads.sessionsOf(id)).flatMap((row) => endedSignInOf(JSON.parse(row.payload)) ?? []);
      return () => backchannelLogout.signInsEnded(ending);
    },
    onRightsChanged,
  });
  const userAdmin = createUserAdminService({
    repo: userAdminRepo,
    audit,
    users,
    links: emailLinks,
    mail: email.mail,
    notify,
    // A disabled account's sign-ins to applications end (told by back-channel logout) and its grants
    // go with their refresh tokens: enabling it again does not bring them back.
    endAccess: async (id, by) => {
      await endSignIns(
        id,
        () => true,
        () => payloads.deleteSessionsOf(id),
      );
      await consents.revokeAll(id, by);
    },
    onAccountChanged: (id) => credentialEvents.publish({ kind: 'account', id }),
    onRightsChanged,
    now,
  });
  const emailChange = createEmailChange({
    accounts: accountsRepo,
    links: emailLinks,
    mail: email.mail,
    notify,
    endOtherSessions: (id, sessionId, keep) => accounts.endOtherSessions(id, sessionId, keep),
    onChanged: (id) => credentialEvents.publish({ kind: 'account', id }),
    audit,
    issuer: config.ISSUER,
    now,
  });
  const passkeys = createPasskeysService({
    repo: createPasskeysRepo(db),
    rp: relyingPartyOf(config.ISSUER),
    now,
    findAccount: (id) => accounts.findById(id),
    recordSignIn: (id, records) => accounts.recordSignIn(id, records),
    trail: signInTrail,
    notify,
    onSignIn: metrics.login,
  });
  const auditTrail = createAuditTrailService({
    log: auditLog,
    audit,
    accountIdOf: async (emailOrId) =>
      (await (emailOrId.includes('@') ? accounts.findByEmail(emailOrId) : accounts.findById(emailOrId)))?.id ?? null,
    retentionDays: config.AUDIT_RETENTION_DAYS,
    now,
  });
  const stopHousekeeping = startHousekeeping(logger, [
    () => payloads.deleteExpired(now()),
    () => browserSessions.deleteExpired(now()),
    () => apiKeys.pruneActivity(),
    () => emailLinks.prune(),
    () => shownOnce.deleteExpired(),
    () => passkeys.pruneChallenges(),
    () => auditTrail.pruneExpired(),
  ]);

  // Bearer credentials for /v2 and /oauth/applications (shared-secret JWTs).
  const sharedJwt = config.JWT_SECRET
    ? createSharedJwtVerifier({
        secret: config.JWT_SECRET,
        issuer: config.JWT_ISSUER,
        maxLifetime: config.JWT_MAX_LIFETIME,
        now,
      })
    : null;

  // Rate limits and brute-force protection of the login forms.
  const rateLimitStore = options.rateLimitStore ?? createMemoryStore();
  const limiter = createRateLimiter({ store: rateLimitStore, now, onRefused: metrics.rateLimitRefused });
  const twoFactor = createTwoFactorService({ repo: createTwoFactorRepo(db), box, now, notify, audit });
  const loginThrottle = createLoginThrottle({ store: rateLimitStore, now, perAddress: config.RATE_LIMIT_LOGIN });
  const login = createLogin(accounts, twoFactor, loginThrottle, signInTrail, metrics.login);
  const accountExport = createAccountExport({
    accounts,
    twoFactor,
    apiKeys,
    applications,
    consents,
    webhooks,
    projects,
    passkeys,
    now,
  });

  const setup = createSetupService({
    repo: createSetupRepo(db),
    passwords,
    passwordPolicy,
    issuer: config.ISSUER,
    audit,
    now,
  });

  // The operators' console: every application, key and endpoint, whoever owns it.
  const applicationSuspension = createApplicationSuspension({
    repo: createApplicationsRepo(db),
    audit,
    events: credentialEvents,
    now,
  });
  const apiKeysAdmin = createApiKeysAdmin({ repo: createApiKeysRepo(db), now });
  const webhookHealth = createWebhookHealth({ repo: createWebhookHealthRepo(db), now });

  return {
    now,
    metrics,
    credentialEvents,
    tokensRevoked,
    oauthTokenCache,
    sharedJwtCache,
    tokenRowCache,
    grantStandingCache,
    payloads,
    browserSessions,
    accounts,
    accountRights,
    projects,
    apiKeys,
    box,
    shownOnce,
    webhooks,
    webhookWorker,
    mail: email.mail,
    mailWorker: email.worker,
    mailDestination: email.destination,
    mailOutbox: email.repo,
    emailLinks,
    securityNotices,
    emailVerification,
    passwordReset,
    consents,
    applications,
    registration,

    apis,
    users,
    userAdmin,
    emailChange,
    accountExport,
    sharedJwt,
    rateLimitStore,
    limiter,
    twoFactor,
    passkeys,
    loginThrottle,
    login,
    backchannelLogout,
    setup,
    audit,
    auditLog,
    auditTrail,
    applicationSuspension,
    apiKeysAdmin,
    webhookHealth,
    async stop() {
      stopHousekeeping();
      await webhookWorker.stop();
      await passwordReset.idle();
      await email.worker.stop();
      await apiKeys.stop();
    },
  };
}
