import Router from '@koa/router';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { API_SCOPES, isApiScope } from '../domain/scopes.ts';
import type { AccountsService } from '../features/accounts/accounts.service.ts';
import type { Login } from '../features/accounts/login.ts';
import {
  clearPendingSecondFactor,
  readPendingSecondFactor,
  setPendingSecondFactor,
} from '../features/accounts/pending-second-factor.ts';
import type { ConsentsService } from '../features/consents/consents.service.ts';
import type { AppContext, AppState } from '../http/context.ts';
import type { Renderer } from '../http/render.ts';
import { type InteractionFate, interactionErrorPage } from './error-pages.ts';
import { grantableScopes } from './provider.ts';
import { SCOPE_CLAIMS, signedIn } from './claims.ts';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** A form posted for a step the sign-in is not at (a second tab, the back button). */
const OUT_OF_STEP_LOGIN = 'not a login prompt';
const OUT_OF_STEP_CONSENT = 'not a consent prompt';

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
  consents: ConsentsService;
  render: Renderer;
  apiResource: string;
  /** Also signs the browser in to the dashboard after a successful login. */
  startDashboardSession(ctx: AppContext, userId: string): Promise<void>;
  /** Body parser + CSRF check for the form posts. */
  formGuard: Middleware<AppState>[];
  secureCookies: boolean;
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

  async function consentView(details: Details) {
    const client = await provider.Client.find(String(details.params['client_id']));
    const account = await accounts.findById(String(details.session?.accountId));
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
    return {
      uid: details.uid,
      appName: client?.clientName ?? String(details.params['client_id']),
      redirectHost: URL.canParse(redirectUri) ? new URL(redirectUri).host : redirectUri,
      account,
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
    };
  }

  router.get('/interaction/:uid', async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name === 'login') {
      return render.page(ctx, 'login', {
        action: `/interaction/${details.uid}/login`,
        email: details.params['login_hint'] ?? '',
        error: null,
        signupOpen: false,
      });
    }
    return render.page(ctx, 'consent', await consentView(details));
  });

  router.post('/interaction/:uid/login', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'login') throw new errors.SessionNotFound(OUT_OF_STEP_LOGIN);
    const body = ctx.request.body as Record<string, unknown>;
    const result = await deps.login.attempt(body['email'], body['password'], ctx.ip);
    if (!result.ok) {
      return render.page(
        ctx,
        'login',
        {
          action: `/interaction/${details.uid}/login`,
          email: typeof body['email'] === 'string' ? body['email'] : '',
          error: result.message,
          signupOpen: false,
        },
        result.status,
      );
    }
    if (result.secondFactor) {
      setPendingSecondFactor(ctx, result.account.id, `interaction:${details.uid}`, deps.secureCookies, deps.now());
      return render.page(ctx, 'second-factor', { action: `/interaction/${details.uid}/2fa`, error: null });
    }
    await deps.startDashboardSession(ctx, result.account.id);
    return finish(ctx, { login: signedIn(result.account.id, ['pwd']) }, false);
  });

  router.post('/interaction/:uid/2fa', ...deps.formGuard, async (ctx) => {
    const details = await loadInteraction(ctx);
    if (details.prompt.name !== 'login') throw new errors.SessionNotFound(OUT_OF_STEP_LOGIN);
    const userId = readPendingSecondFactor(ctx, `interaction:${details.uid}`, deps.now());
    if (!userId) {
      return render.page(
        ctx,
        'login',
        {
          action: `/interaction/${details.uid}/login`,
          email: '',
          error: 'Your sign-in expired. Please sign in again.',
          signupOpen: false,
        },
        401,
      );
    }
    const result = await deps.login.attemptSecondFactor(
      userId,
      (ctx.request.body as Record<string, unknown>)['code'],
      ctx.ip,
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
    await deps.startDashboardSession(ctx, result.account.id);
    return finish(ctx, { login: signedIn(result.account.id, ['pwd', 'otp']) }, false);
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
      const allowed = [...grantableScopes(scopes, account?.isAdmin ?? false), ...scopes.filter(isOidcScope)];
      grant.addResourceScope(resource, allowed.join(' '));
      // Recorded as rejected (admin:all for a non-admin), so later requests do not ask again.
      const refused = scopes.filter((s) => !allowed.includes(s));
      if (refused.length) grant.rejectResourceScope(resource, refused.join(' '));
    }
    const grantId = await grant.save();
    const granted = String(grant.getResourceScope(apiResource) ?? '')
      .split(' ')
      .filter(isApiScope);
    await consents.remember(accountId, clientId, grantId, granted);
    return finish(ctx, { consent: { grantId } }, true);
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
  if (reason === OUT_OF_STEP_LOGIN || reason === OUT_OF_STEP_CONSENT) return 'out-of-step';
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
