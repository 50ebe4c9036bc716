import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { API_SCOPES, isApiScope } from '../domain/scopes.ts';
import type { AccountsService } from '../features/accounts/accounts.service.ts';
import type { Login } from '../features/accounts/login.ts';
import { PASSKEY_AMR, forgotPasswordHref, passkeySignIn } from '../features/accounts/accounts.pages.ts';
import type { PasskeysService } from '../features/passkeys/passkeys.service.ts';
import type { Account } from '../domain/account.ts';
import {
  clearPendingSecondFactor,
  readPendingSecondFactor,
  setPendingSecondFactor,
} from '../features/accounts/pending-second-factor.ts';
import type { ConsentsService } from '../features/consents/consents.service.ts';
import type { AppContext, AppState } from '../http/context.ts';
import type { Renderer } from '../http/render.ts';
import { allowImagesFrom } from '../http/security-headers.ts';
import { provenanceOf } from '../http/request-facts.ts';
import { type APPLICATION_LINKS, webLinkProblem } from '../domain/applications.ts';
import { SELF_REGISTERED_OWNER } from '../domain/registration.ts';
import { REVIEW_STATE } from '../features/applications/applications.service.ts';
import { loginFromDashboardSession } from './dashboard-login.ts';
import { type InteractionFate, interactionErrorPage } from './error-pages.ts';
import { EMAIL_NOT_VERIFIED, SELECT_ACCOUNT, grantableScopes } from './provider.ts';
import { SCOPE_CLAIMS, type SignInMethod, signedIn } from './claims.ts';
import type { ResourceServer } from '../domain/resource-servers.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Where an authorization request starts again after "Switch account" (provider.ts routes it here). */
const AUTHORIZE_PATH = '/oauth/authorize';
/** oidc-provider's session cookie (signed with the same keys as ours). */
const PROVIDER_SESSION_COOKIE = '_session';

/** The registered links of a client fit to show (checked again here: stored data is not trusted to be). */
function linksOf(metadata: Record<string, unknown>) {
  const shown = (name: (typeof APPLICATION_LINKS)[number]) => {
    const value = metadata[name];
    return typeof value === 'string' && webLinkProblem(value) === null ? value : null;
  };
  const homepage = shown('client_uri');
  return {
    logo: shown('logo_uri'),
    homepage,
    homepageHost: homepage ? new URL(homepage).host : null,
    policy: shown('policy_uri'),
    terms: shown('tos_uri'),
  };
}

/** Marks the next sign-in form of this browser as the one "Switch account" led to (a fixed notice). */
const SWITCHED_COOKIE = 'lk_switched';
const SWITCHED_NOTICE = 'You are signed out. Sign in as the person who should continue.';
const switchedCookie = (secure: boolean) => ({ signed: true, httpOnly: true, sameSite: 'lax' as const, secure });

/** A form posted for a step the sign-in is not at (a second tab, the back button). */
const OUT_OF_STEP_LOGIN = 'not a login prompt';
const OUT_OF_STEP_CONSENT = 'not a consent prompt';
const OUT_OF_STEP_SELECT = 'not an account selection prompt';

/**
 * What each OpenID scope lets the application learn or do. The ID token and userinfo carry the
 * email and name, so these are shown on the consent page like the API scopes: every scope whose
 * data leaves the server is named there.
 */
export const OIDC_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name and when your account last changed',
  email: 'See your email address and whether it is verified',
  offline_access: 'Keep this access while you are not using it, until you revoke it',
};
const isOidcScope = (s: string) => Object.hasOwn(OIDC_SCOPE_DESCRIPTIONS, s);

/** The claims an application may ask for one by one (the `claims` parameter), named on the consent page too. */
export const CLAIM_DESCRIPTIONS: Record<string, string> = {
  name: 'See your name',
  updated_at: 'See when your account last changed',
  email: 'See your email address',
  email_verified: 'See whether your email address is verified',
};
const describedClaim = (c: string) => Object.hasOwn(CLAIM_DESCRIPTIONS, c);

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountsService;
  login: Login;
  passkeys: PasskeysService;
  consents: ConsentsService;
  render: Renderer;
  apiResource: string;
  /** The registered API a `resource` names (undefined: none; the built-in one is apiResource). */
  findApi(identifier: string): Promise<ResourceServer | undefined>;
  /** The APIs owning any of these scope names. */
  findApisByScopes(names: readonly string[]): Promise<ResourceServer[]>;
  /** Also signs the browser in to the dashboard after a successful login (`amr`: how). */
  startDashboardSession(ctx: AppContext, userId: string, amr: string[]): Promise<void>;
  /** Signs this browser out: its dashboard session and its provider session ("Switch account"). */
  endSessions(ctx: AppContext): Promise<void>;
  /** The account that registered an application, as the consent page names it. */
  applicationOwner(clientId: string): Promise<{ name: string | null; email: string } | null>;
  /** Body parser + CSRF check for the form posts. */
  formGuard: Middleware<AppState>[];
  secureCookies: boolean;
  /** REQUIRE_EMAIL_VERIFICATION: an account with an unproven address cannot finish signing in here. */
  requireEmailVerification: boolean;
  now(): number;
}

/**
 * The login and consent pages oidc-provider sends the browser to (/interaction/:uid). Each handler
 * reads as its steps: load the interaction, check it, act, hand the result back to the provider.
 */
export function interactionRouter(deps: InteractionDeps): Router<AppState> {
  const { provider, accounts, consents, render, apiResource } = deps;
  const router = new Router<AppState>();

  async function loadInteraction(ctx: AppContext): Promise<Details> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params['uid']) throw new errors.SessionNotFound('interaction mismatch');
    return details;
  }

  async function finish(ctx: AppContext, result: InteractionResults, merge: boolean): Promise<void> {
    const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.status = 303;
    ctx.redirect(to);
  }

  /**
   * Someone other than the account of this browser's provider session signed in on the form
   * (`prompt=login`, or after a sign-in for another application): that provider session ends here,
   * and the interaction no longer belongs to it. Left to oidc-provider, it would instead ask the
   * browser to confirm a sign-out on a page Latchkey does not serve.
   */
  async function replaceOtherAccountsSession(ctx: AppContext, details: Details, accountId: string): Promise<void> {
    const previous = details.session;
    if (!previous?.accountId || previous.accountId === accountId) return;
    const cookie = ctx.cookies.get(PROVIDER_SESSION_COOKIE, { signed: true });
    const session = cookie ? await provider.Session.find(cookie) : undefined;
    if (session && session.uid === previous.uid) await session.destroy();
    details.session = undefined;
    await details.save(Math.max(1, (details.exp ?? 0) - Math.floor(Date.now() / 1000)));
  }

  async function consentView(details: Details) {
    const clientId = String(details.params['client_id']);
    const client = await provider.Client.find(clientId);
    const account = await accounts.findById(String(details.session?.accountId));
    const owner = await deps.applicationOwner(clientId);
    const selfRegistered = owner?.email === SELF_REGISTERED_OWNER.email;
    const promptDetails = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const requestedScopes = String(details.params['scope'] ?? '').split(' ');
    const requested = requestedScopes.filter(isApiScope);
    const requestedOidc = requestedScopes.filter(isOidcScope);
    // A claim its scope already names on the page is not listed a second time.
    const byScope = new Set<string>(requestedOidc.flatMap((s) => SCOPE_CLAIMS[s as keyof typeof SCOPE_CLAIMS] ?? []));
    const missingClaims = (promptDetails.missingOIDCClaims ?? []).filter((c) => describedClaim(c) && !byScope.has(c));
    // prompt=consent re-asks with nothing missing: show everything requested then.
    const missing = promptDetails.missingResourceScopes?.[apiResource] ?? requested;
    const missingOidc = (promptDetails.missingOIDCScope ?? requestedOidc).filter(isOidcScope);
    const grantable = new Set(grantableScopes(missing, account?.isAdmin ?? false));
    const redirectUri = String(details.params['redirect_uri'] ?? '');
    const apiGroups = await registeredApiGroups(requestedScopes, promptDetails.missingResourceScopes ?? {});
    return {
      uid: details.uid,
      appName: client?.clientName ?? String(details.params['client_id']),
      redirectHost: URL.canParse(redirectUri) ? new URL(redirectUri).host : redirectUri,
      account,
      // A client that registered itself (RFC 7591) names no person; until reviewed, the page says so.
      owner: owner && !selfRegistered ? (owner.name ?? owner.email) : null,
      unreviewed: client?.metadata()[REVIEW_STATE] === 'pending',
      links: linksOf(client?.metadata() ?? {}),
      scopes: [
        ...missingOidc.map((s) => ({ name: s, description: OIDC_SCOPE_DESCRIPTIONS[s], grantable: true })),
        ...missingClaims.map((c) => ({ name: c, description: CLAIM_DESCRIPTIONS[c], grantable: true })),
        ...missing
          .filter(isApiScope)
          .map((s) => ({ name: s, description: API_SCOPES[s], grantable: grantable.has(s) })),
      ],
      alreadyGranted: [
        ...requestedOidc
          .filter((s) => !missingOidc.includes(s))
          .map((s) => ({ name: s, description: OIDC_SCOPE_DESCRIPTIONS[s] })),
        ...requested.filter((s) => !missing.includes(s)).map((s) => ({ name: s, description: API_SCOPES[s] })),
      ],
      apiGroups,
    };
  }

  /**
   * The registered APIs this request is for, each with its scopes to approve and those already
   * approved, described as the API describes them: the resources still missing scopes, and the
   * APIs whose scopes the request names (prompt=consent asks again with nothing missing).
   */
  async function registeredApiGroups(requestedScopes: string[], missingByResource: Record<string, string[]>) {
    const apis = new Map<string, ResourceServer>();
    for (const api of await deps.findApisByScopes(requestedScopes)) if (!api.builtIn) apis.set(api.identifier, api);
    for (const resource of Object.keys(missingByResource)) {
      if (resource === apiResource || apis.has(resource)) continue;
      const api = await deps.findApi(resource);
      if (api && !api.builtIn) apis.set(resource, api);
    }
    return [...apis.values()].map((api) => {
      const requested = api.scopes.filter((s) => requestedScopes.includes(s.name));
      const missing = missingByResource[api.identifier];
      const asking = missing ? api.scopes.filter((s) => missing.includes(s.name)) : requested;
      return {
        name: api.name,
        identifier: api.identifier,
        scopes: asking,
        alreadyGranted: requested.filter((s) => !asking.includes(s)),
      };
    });
  }

  /** Of the scopes a resource is missing, those the person may grant (the OpenID ones ride with the built-in API). */
  async function grantableFor(resource: string, scopes: string[], isAdmin: boolean): Promise<string[]> {
    if (resource === apiResource) return [...grantableScopes(scopes, isAdmin), ...scopes.filter(isOidcScope)];
    const api = await deps.findApi(resource);
    return scopes.filter((s) => api?.scopes.some((own) => own.name === s));
  }

  const forgotHref = (uid: string) => forgotPasswordHref(`/interaction/${uid}`);

  /** The interaction's sign-in form (no sign-up link: the application's person signs in). */
  const loginForm = (
    ctx: AppContext,
    uid: string,
    view: { email?: string; error?: string | null; notice?: string | null },
    status = 200,
  ) =>
    render.page(
      ctx,
      'login',
      {
        action: `/interaction/${uid}/login`,
        email: view.email ?? '',
        error: view.error ?? null,
        ...(view.notice !== undefined ? { notice: view.notice } : {}),
        signupOpen: false,
        forgotHref: forgotHref(uid),
      },
      status,
    );

  /**
   * Signed in, but the address is not verified and the server requires it: the application waits.
   * The browser keeps its dashboard session, where the link can be sent again.
   */
  const verifyFirst = (ctx: AppContext, uid: string, email: string) =>
    render.page(ctx, 'verify-first', { email, continueHref: `/interaction/${uid}` }, 403);
  const mustVerify = (account: { emailVerified: boolean }) => deps.requireEmailVerification && !account.emailVerified;

  /**
   * A sign-in on the form (password, second factor or passkey) completed: the dashboard session
   * starts with its methods, another account's provider session here ends, and, unless the address
   * must be verified first, the login prompt is answered.
   */
  async function completeSignIn(ctx: AppContext, details: Details, account: Account, amr: SignInMethod[]) {
    await deps.startDashboardSession(ctx, account.id, amr);
    await replaceOtherAccountsSession(ctx, details, account.id);
    if (mustVerify(account)) return verifyFirst(ctx, details.uid, account.email);
    return finish(ctx, { login: signedIn(account.id, amr) }, false);
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await loadInteraction(ctx);
    // One sign-in serves both: a browser signed in to the dashboard is signed in here too.
    const fromSession = loginFromDashboardSession(ctx.state, details, deps.now());
    if (fromSession) {
      // Verification first: otherwise the next visit would sign in from the session again (a loop).
      const account = ctx.state.account!;
      if (mustVerify(account)) return verifyFirst(ctx, details.uid, account.email);
      return finish(ctx, { login: fromSession }, false);
    }
    if (details.prompt.name === 'login') {
      const switched = ctx.cookies.get(SWITCHED_COOKIE, { signed: true }) === '1';
      if (switched) ctx.cookies.set(SWITCHED_COOKIE, null, switchedCookie(deps.secureCookies));
      // The provider session's account still has to prove its address (see provider.ts).
      if (details.prompt.reasons.includes(EMAIL_NOT_VERIFIED) && details.session?.accountId) {
        const account = await accounts.findById(details.session.accountId);
        if (account && mustVerify(account)) return verifyFirst(ctx, details.uid, account.email);
      }
      return loginForm(ctx, details.uid, {
        email: String(details.params['login_hint'] ?? ''),
        notice: switched ? SWITCHED_NOTICE : null,
      });
    }
    if (details.prompt.name === SELECT_ACCOUNT) {
      const account = await accounts.findById(String(details.session?.accountId));
      const client = await provider.Client.find(String(details.params['client_id']));
      return render.page(ctx, 'select-account', {
        uid: details.uid,
        appName: client?.clientName ?? String(details.params['client_id']),
        email: account?.email ?? '',
      });
    }
    const view = await consentView(details);
    // The logo is the one image from elsewhere: allowed from its own origin, on this page only.
    if (view.links.logo) allowImagesFrom(ctx, new URL(view.links.logo).origin);
    return render.page(ctx, 'consent', view);
  });

  router.post('/interaction/:uid/login', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'login') throw new errors.SessionNotFound(OUT_OF_STEP_LOGIN);
    const body = ctx.request.body as Record<string, unknown>;
    const result = await deps.login.attempt(body['email'], body['password'], ctx.ip, provenanceOf(ctx));
    if (!result.ok) {
      const email = typeof body['email'] === 'string' ? body['email'] : '';
      return loginForm(ctx, details.uid, { email, error: result.message }, result.status);
    }
    if (result.secondFactor) {
      setPendingSecondFactor(ctx, result.account.id, `interaction:${details.uid}`, deps.secureCookies, deps.now());
      return render.page(ctx, 'second-factor', { action: `/interaction/${details.uid}/2fa`, error: null });
    }
    return completeSignIn(ctx, details, result.account, ['pwd']);
  });

  // A passkey (user verification required) is both factors: the login completes with no code step.
  router.post('/interaction/:uid/login/passkey', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'login') throw new errors.SessionNotFound(OUT_OF_STEP_LOGIN);
    const result = await passkeySignIn(deps.passkeys, ctx);
    if (!result.ok) return loginForm(ctx, details.uid, { error: result.message }, result.status);
    return completeSignIn(ctx, details, result.account, PASSKEY_AMR);
  });

  router.post('/interaction/:uid/2fa', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'login') throw new errors.SessionNotFound(OUT_OF_STEP_LOGIN);
    const userId = readPendingSecondFactor(ctx, `interaction:${details.uid}`, deps.now());
    if (!userId) {
      return loginForm(ctx, details.uid, { error: 'Your sign-in expired. Please sign in again.' }, 401);
    }
    const result = await deps.login.attemptSecondFactor(
      userId,
      (ctx.request.body as Record<string, unknown>)['code'],
      ctx.ip,
      provenanceOf(ctx),
    );
    if (!result.ok) {
      return render.page(
        ctx,
        'second-factor',
        { action: `/interaction/${details.uid}/2fa`, error: result.message },
        result.status,
      );
    }
    clearPendingSecondFactor(ctx, deps.secureCookies);
    return completeSignIn(ctx, details, result.account, ['pwd', 'otp']);
  });

  router.post('/interaction/:uid/confirm', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'consent' || !details.session?.accountId) {
      throw new errors.SessionNotFound(OUT_OF_STEP_CONSENT);
    }
    const accountId = details.session.accountId;
    const clientId = String(details.params['client_id']);
    const account = await accounts.findById(accountId);
    const grant = details.grantId
      ? (await provider.Grant.find(details.grantId))!
      : new provider.Grant({ accountId, clientId });
    const promptDetails = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '));
    if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) {
      // The OpenID scopes ride in the access token too (provider.ts), granted with the sign-in.
      const allowed = await grantableFor(resource, scopes, account?.isAdmin ?? false);
      grant.addResourceScope(resource, allowed.join(' '));
      // Recorded as rejected (admin:all for a non-admin), so later requests do not ask again.
      const refused = scopes.filter((s) => !allowed.includes(s));
      if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
    }
    const grantId = await grant.save();
    const granted = String(grant.getResourceScope(apiResource) ?? '')
      .split(' ')
      .filter(isApiScope);
    await consents.remember(accountId, clientId, grantId, granted, account?.email ?? null, provenanceOf(ctx));
    return finish(ctx, { consent: { grantId } }, true);
  });

  // prompt=select_account: "Continue as X" keeps the signed-in account ("Use another account" is Switch account).
  router.post('/interaction/:uid/select-account', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== SELECT_ACCOUNT) throw new errors.SessionNotFound(OUT_OF_STEP_SELECT);
    return finish(ctx, { select_account: {} }, true);
  });

  /**
   * "Not you? Switch account": signs this browser out (dashboard and provider sessions), drops this
   * interaction, and starts the same authorization request again, which now asks who is signing in.
   */
  router.post('/interaction/:uid/switch-account', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    await deps.endSessions(ctx);
    await (await provider.Interaction.find(details.uid))?.destroy();
    ctx.cookies.set(SWITCHED_COOKIE, '1', { ...switchedCookie(deps.secureCookies), maxAge: 10 * 60_000 });
    const again = new URLSearchParams();
    for (const [name, value] of Object.entries(details.params)) {
      for (const one of Array.isArray(value) ? value : [value]) {
        if (typeof one === 'string' || typeof one === 'number') again.append(name, String(one));
      }
    }
    ctx.status = 303;
    ctx.redirect(`${AUTHORIZE_PATH}?${again}`);
  });

  router.post('/interaction/:uid/abort', ...deps.formGuard, async (ctx) => {
    await loadInteraction(ctx);
    return finish(ctx, { error: 'access_denied', error_description: 'The user denied the request' }, false);
  });

  return router;
}

export interface InteractionErrorDeps {
  render: Renderer;
  /** The stored sign-in request with this uid, expired or not; undefined when there is none. */
  storedInteraction(uid: string): Promise<{ expiresAt: number | null } | undefined>;
  now(): number;
}

/** Why oidc-provider (or a step here) found no sign-in to go on with, from what it said and what is stored. */
async function fateOf(deps: InteractionErrorDeps, reason: string, uid: string | null): Promise<InteractionFate> {
  if (reason === 'session not found' || reason === 'session principal changed') return 'signed-out';
  if (reason === OUT_OF_STEP_LOGIN || reason === OUT_OF_STEP_CONSENT || reason === OUT_OF_STEP_SELECT) {
    return 'out-of-step';
  }
  const stored = uid ? await deps.storedInteraction(uid) : undefined;
  if (!stored) return 'not-found';
  if (stored.expiresAt !== null && stored.expiresAt <= deps.now()) return 'expired';
  // It is there and current, yet this browser's request did not lead to it: its cookie is missing.
  return 'other-browser';
}

/**
 * A sign-in page that cannot go on is a page that says why (expired, not found, started in another
 * browser...), never a stack trace. An unknown id is "not found", not "expired".
 */
export function interactionErrors(deps: InteractionErrorDeps): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof errors.SessionNotFound || (err as { name?: string }).name === 'SessionNotFound') {
        const reason = String((err as { error_description?: unknown }).error_description ?? '');
        const uid = /^\/interaction\/([\w-]{1,128})(?:\/|$)/.exec(ctx.path)?.[1] ?? null;
        const page = interactionErrorPage(await fateOf(deps, reason, uid));
        return deps.render.error(ctx, 400, page.title, page.message);
      }
      throw err;
    }
  };
}
