import compose from 'koa-compose';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { Config } from '../../config.ts';
import type { AppContext, AppState } from '../context.ts';
import { errorHandler, pageErrors } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import type { Renderer } from '../render.ts';
import { browserSession, clearSessionCookie, setSessionCookie } from '../session.ts';
import { csrf } from '../csrf.ts';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { Login } from '../../features/accounts/login.ts';
import type { TwoFactorService } from '../../features/accounts/two-factor.service.ts';
import type { PasskeysService } from '../../features/passkeys/passkeys.service.ts';
import { accountPagesRouter } from '../../features/accounts/accounts.pages.ts';
import { securityPagesRouter } from '../../features/accounts/security.pages.ts';
import { confirmPagesRouter } from '../../features/accounts/confirm.pages.ts';
import { sessionsPagesRouter } from '../../features/accounts/sessions.pages.ts';
import { verifyEmailPagesRouter } from '../../features/accounts/verify-email.pages.ts';
import { passwordResetPagesRouter } from '../../features/accounts/password-reset.pages.ts';
import type { EmailVerification } from '../../features/accounts/email-verification.ts';
import type { PasswordReset } from '../../features/accounts/password-reset.ts';
import { requireFreshAuth } from '../../features/accounts/fresh-auth.ts';
import type { EmailChange } from '../../features/accounts/email-change.ts';
import { accountSettingsRouter } from '../../features/users/account-settings.pages.ts';
import type { AccountExporter } from '../../features/users/account-export.ts';
import type { UsersService } from '../../features/users/users.service.ts';
import type { ApiKeysService } from '../../features/api-keys/api-keys.service.ts';
import type { ApplicationsService } from '../../features/applications/applications.service.ts';
import type { ConsentsService } from '../../features/consents/consents.service.ts';
import type { WebhooksService } from '../../features/webhooks/webhooks.service.ts';
import { dashboardRouter } from '../../features/dashboard/dashboard.routes.ts';
import { setupPagesRouter } from '../../features/setup/setup.pages.ts';
import { docsPagesRouter } from '../../features/docs/docs.pages.ts';
import type { SetupService } from '../../features/setup/setup.service.ts';
import type { ShownOnceService } from '../../features/shown-once/shown-once.service.ts';
import type { RateLimiter } from '../../features/rate-limit/rate-limiter.ts';
import { interactionErrors, interactionRouter } from '../../oidc/interactions.ts';
import type { PayloadsRepo } from '../../oidc/payloads.repo.ts';
import { sha256 } from '../../shared/secrets.ts';
import { endedSignInOf, type BackchannelLogout } from '../../oidc/backchannel-logout.ts';
import type { ApisService } from '../../features/apis/apis.service.ts';
import { activityPagesRouter } from '../../features/audit-trail/activity.pages.ts';
import type { AuditTrailService } from '../../features/audit-trail/audit-trail.service.ts';

/** Change-of-address requests per account (each one sends a mail to an address the person typed). */
const EMAIL_CHANGE_LIMIT = { hourly: 10, burst: 1 };
/** "Resend the link", per account: a few mails an hour is plenty for a person, and bounds a script. */
const VERIFICATION_RESEND_LIMIT = { hourly: 5, burst: 1 };

export interface PagesAppDeps {
  config: Config;
  provider: Provider;
  render: Renderer;
  accounts: AccountsService;
  login: Login;
  twoFactor: TwoFactorService;
  passkeys: PasskeysService;
  consents: ConsentsService;
  apiKeys: ApiKeysService;
  applications: ApplicationsService;
  apis: ApisService;
  webhooks: WebhooksService;
  users: UsersService;
  emailChange: EmailChange;
  accountExport: AccountExporter;
  shownOnce: ShownOnceService;
  limiter: RateLimiter;
  /** oidc-provider's stored rows: the error pages of sign-in look up what became of a request. */
  payloads: Pick<PayloadsRepo, 'findById'>;
  emailVerification: EmailVerification;
  passwordReset: PasswordReset;
  backchannelLogout: BackchannelLogout;
  setup: SetupService;
  auditTrail: AuditTrailService;
  now(): number;
}

/**
 * Pages for people (everything no other audience claims): sign-in and consent (the interactions
 * oidc-provider sends the browser to), sign-up, the dashboard and the account settings. HTML
 * errors, page headers with a per-response CSP nonce, the browser session, a CSRF token on every
 * page (checked by `formGuard` on each form post, after the form body is parsed).
 */
export function pagesApp(deps: PagesAppDeps): { app: Middleware<AppState>; routers: Router<AppState>[] } {
  const { config, provider, render, accounts, login, consents, now } = deps;
  const secure = config.secureCookies;
  const csrfCheck = csrf({ secure });
  const formGuard = [bodyParser({ enableTypes: ['form'], formLimit: '16kb' }), csrfCheck];
  // Sudo mode for settings changes; `formPage` is where the re-confirmation returns to.
  const freshAuth = (formPage: string) =>
    requireFreshAuth({ maxAgeMs: config.FRESH_AUTH_MAX_AGE * 1000, now, formPage });

  // Browser sessions shared by the pages. A sign-in replaces whatever session this browser had.
  const startDashboardSession = async (ctx: AppContext, userId: string, amr: string[]) => {
    if (ctx.state.sessionId) await accounts.endSession(ctx.state.sessionId);
    const session = await accounts.startSession(userId, { userAgent: ctx.get('user-agent'), ip: ctx.ip }, amr);
    setSessionCookie(ctx, session.id, session.expiresAt, secure);
  };
  const providerSessionOf = async (ctx: AppContext) => {
    const providerSessionId = ctx.cookies.get('_session', { signed: true });
    return providerSessionId ? provider.Session.find(providerSessionId) : undefined;
  };
  const endSessions = async (ctx: AppContext) => {
    if (ctx.state.sessionId) await accounts.endSession(ctx.state.sessionId);
    clearSessionCookie(ctx, secure);
    const providerSession = await providerSessionOf(ctx);
    await providerSession?.destroy();
    ctx.cookies.set('_session', null, { signed: true });
    // The applications this browser signed in to hear of it (back-channel logout).
    const ended = endedSignInOf(providerSession);
    if (ended) await deps.backchannelLogout.signInsEnded([ended]);
  };
  /**
   * Signing in on /login: the dashboard session starts, and an OAuth sign-in this browser still
   * holds for another account ends, so that applications see the person the header names.
   */
  const signInOnDashboard = async (ctx: AppContext, userId: string, amr: string[]) => {
    const providerSession = await providerSessionOf(ctx);
    if (providerSession?.accountId && providerSession.accountId !== userId) {
      await providerSession.destroy();
      ctx.cookies.set('_session', null, { signed: true });
    }
    await startDashboardSession(ctx, userId, amr);
  };

  const routers = [
    interactionRouter({
      provider,
      accounts,
      login,
      passkeys: deps.passkeys,
      consents,
      render,
      apiResource: config.API_RESOURCE,
      findApi: (identifier) => deps.apis.find(identifier),
      findApisByScopes: (names) => deps.apis.findByScopes(names),
      startDashboardSession,
      endSessions,
      applicationOwner: async (clientId) => {
        const ownerId = await deps.applications.ownerOf(clientId);
        return ownerId ? accounts.findById(ownerId) : null;
      },
      formGuard,
      secureCookies: secure,
      requireEmailVerification: config.REQUIRE_EMAIL_VERIFICATION,
      now,
    }),
    accountPagesRouter({
      accounts,
      signUp: (input, by) => deps.emailVerification.signUp(input, by),
      login,
      passkeys: deps.passkeys,
      // Each challenge is a stored row: an address asks for them at the pace of sign-in attempts.
      passkeyOptionsLimit: (ip) => deps.limiter.check(`passkey-options:ip:${ip}`, config.RATE_LIMIT_LOGIN),
      render,
      signupOpen: config.SIGNUP === 'open',
      secureCookies: secure,
      now,
      startDashboardSession: signInOnDashboard,
      signupLimit: (ip) => deps.limiter.check(`signup:ip:${ip}`, config.RATE_LIMIT_SIGNUP),
      endSessions,
      formGuard,
    }),
    dashboardRouter({
      render,
      formGuard,
      apiKeys: deps.apiKeys,
      applications: deps.applications,
      apis: deps.apis,
      consents,
      webhooks: deps.webhooks,
      shownOnce: deps.shownOnce,
      apiKeyRotationGraceMs: config.API_KEY_ROTATION_GRACE * 1000,
      now,
      origin: new URL(config.ISSUER).origin,
      twoFactorEnabled: async (id) => (await deps.twoFactor.status(id)).enabled,
    }),
    securityPagesRouter({
      accounts,
      twoFactor: deps.twoFactor,
      passkeys: deps.passkeys,
      login,
      render,
      formGuard,
      freshAuth: freshAuth('/settings/security'),
      revokeAllApplications: (id, by) => consents.revokeAll(id, by),
      secureCookies: secure,
      now,
    }),
    confirmPagesRouter({ accounts, login, render, formGuard }),
    setupPagesRouter({ setup: deps.setup, render, formGuard, startDashboardSession: signInOnDashboard }),
    docsPagesRouter({ render }),
    sessionsPagesRouter({ accounts, render, formGuard, now }),
    activityPagesRouter({ auditTrail: deps.auditTrail, render, now }),
    accountSettingsRouter({
      users: deps.users,
      emailChange: deps.emailChange,
      exporter: deps.accountExport,
      render,
      formGuard,
      freshAuth,
      // Each request mails someone: a few an hour, one a second, per account.
      emailChangeLimit: (userId) => deps.limiter.check(`email-change:user:${userId}`, EMAIL_CHANGE_LIMIT),
      endSessions,
      secureCookies: secure,
      now,
    }),
    verifyEmailPagesRouter({
      verification: deps.emailVerification,
      render,
      formGuard,
      resendLimit: (userId) => deps.limiter.check(`verify-resend:user:${userId}`, VERIFICATION_RESEND_LIMIT),
    }),
    passwordResetPagesRouter({
      passwordReset: deps.passwordReset,
      render,
      formGuard,
      secureCookies: secure,
      // Per address asked about and per client address: both must allow it.
      resetLimit: async (email, ip) => {
        const byIp = await deps.limiter.check(`password-reset:ip:${ip}`, config.RATE_LIMIT_PASSWORD_RESET);
        if (!byIp.allowed) return byIp;
        return deps.limiter.check(`password-reset:email:${email}`, config.RATE_LIMIT_PASSWORD_RESET);
      },
    }),
  ];

  const app = compose<AppContext>([
    errorHandler(pageErrors(render)),
    securityHeaders({ hsts: secure, pages: true }),
    browserSession(accounts),
    // GET pages need the CSRF token for their forms; the check itself runs in formGuard.
    async (ctx, next) => (ctx.method === 'GET' ? csrfCheck(ctx, next) : next()),
    interactionErrors({
      render,
      now,
      storedInteraction: async (uid) => {
        // oidc-provider's Interaction id is its uid; rows are keyed by its hash (see oidc/adapter.ts).
        const row = await deps.payloads.findById('Interaction', sha256(uid));
        return row && { expiresAt: row.expires_at };
      },
    }),
    ...routers.flatMap((r) => [r.routes(), r.allowedMethods()] as Middleware<AppState>[]),
  ] as Middleware<AppState>[]) as Middleware<AppState>;
  return { app, routers };
}
