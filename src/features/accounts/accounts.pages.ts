import Router from '@koa/router';
import type { Middleware } from 'koa';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import type { Login } from './login.ts';
import { clearPendingSecondFactor, readPendingSecondFactor, setPendingSecondFactor } from './pending-second-factor.ts';
import type { Decision } from '../rate-limit/decide.ts';
import type { Account } from '../../domain/account.ts';
import { Forbidden, Unauthenticated, ValidationError } from '../../domain/errors.ts';
import { authenticationResponseSchema, credentialField } from '../../wire/passkeys.ts';
import { parseWire } from '../../wire/parse.ts';
import { PASSKEY_SIGN_IN_AMR, type PasskeysService } from '../passkeys/passkeys.service.ts';
import { provenanceOf } from '../../http/request-facts.ts';
import type { Provenance } from '../../domain/audit.ts';

const DASHBOARD = 'dashboard';

export interface AccountPagesDeps {
  accounts: AccountsService;
  /** The public sign-up: a new account and its verification link, or a note to the address's owner. */
  signUp(input: { email: string; password: string; name: string }, by: Provenance): Promise<void>;
  login: Login;
  passkeys: PasskeysService;
  /** Counts a request for passkey sign-in options (a stored challenge) from this address, and decides. */
  passkeyOptionsLimit(ip: string): Promise<Decision>;
  render: Renderer;
  signupOpen: boolean;
  secureCookies: boolean;
  now(): number;
  /**
   * Signs the browser in to the dashboard. `amr` is how the person authenticated (RFC 8176: `pwd`,
   * `otp`...): applications signed in from this session are told exactly that, so every caller says.
   */
  startDashboardSession(ctx: AppContext, userId: string, amr: string[]): Promise<void>;
  /** Counts a sign-up from this address (RATE_LIMIT_SIGNUP) and decides. */
  signupLimit(ip: string): Promise<Decision>;
  /** Ends the dashboard session and the OAuth (provider) session of this browser. */
  endSessions(ctx: AppContext): Promise<void>;
  formGuard: Middleware<AppState>[];
}

/**
 * Longer return paths are dropped: re-encoded into a Location header they could outgrow what
 * clients and proxies accept (16 KiB in Node).
 */
export const MAX_RETURN_TO = 2_000;

/** Only same-site paths may be returned to after sign-in (no open redirect). */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_RETURN_TO && /^\/(?![/\\])/.test(value)
    ? value
    : '/dashboard';
}

/**
 * How a passkey sign-in is recorded (RFC 8176 `hwk`: proof of possession of a hardware-secured
 * key). User verification is required, so it stands for both factors: no code is asked after it.
 */
export const PASSKEY_AMR = PASSKEY_SIGN_IN_AMR;
export const PASSKEY_REFUSED = 'That passkey could not sign you in. Try again, or sign in with your password.';

/** A passkey sign-in's outcome: the account, or what to answer (and with which status). */
export type PasskeySignInResult = { ok: true; account: Account } | { ok: false; status: 401 | 403; message: string };

/**
 * The account the posted passkey answer (the `response` field) signs in, or the refusal: an
 * unreadable answer, one the passkeys service refuses, or a disabled account (told so, since its
 * passkey was right). Both sign-in forms (dashboard and OAuth) use it.
 */
export async function passkeySignIn(passkeys: PasskeysService, ctx: AppContext): Promise<PasskeySignInResult> {
  try {
    const body = ctx.request.body as Record<string, unknown>;
    const response = parseWire(credentialField(authenticationResponseSchema), body['response']);
    return { ok: true, account: await passkeys.signIn(response, ctx.state.csrfToken!, provenanceOf(ctx)) };
  } catch (err) {
    if (err instanceof Forbidden) return { ok: false, status: 403, message: err.message };
    if (err instanceof Unauthenticated || err instanceof ValidationError) {
      return { ok: false, status: 401, message: PASSKEY_REFUSED };
    }
    throw err;
  }
}

/** Shown on the sign-in page that signing out lands on (`?signed_out=1`: a fixed text, never echoed). */
const SIGNED_OUT_NOTICE = 'You are signed out. Sign in again to use the dashboard.';

/** Where "Forgot password?" leads, so that the person can come back to `returnTo` after the reset. */
export function forgotPasswordHref(returnTo: string): string {
  return returnTo === '/dashboard' ? '/password/forgot' : `/password/forgot?return_to=${encodeURIComponent(returnTo)}`;
}

/** Sign-up, sign-in and sign-out (the dashboard itself lives in features/dashboard). */
export function accountPagesRouter(deps: AccountPagesDeps): Router<AppState> {
  const { render, signupOpen } = deps;
  const router = new Router<AppState>();

  const loginPage = (
    ctx: AppContext,
    data: { email?: string; error?: string | null; notice?: string | null; returnTo?: string },
    status = 200,
  ) =>
    render.page(
      ctx,
      'login',
      {
        action: `/login?return_to=${encodeURIComponent(data.returnTo ?? '/dashboard')}`,
        email: data.email ?? '',
        error: data.error ?? null,
        notice: data.notice ?? null,
        signupOpen,
        forgotHref: forgotPasswordHref(data.returnTo ?? '/dashboard'),
      },
      status,
    );

  router.get('/', (ctx) => ctx.redirect(ctx.state.account ? '/dashboard' : '/login'));

  router.get('/login', (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    if (ctx.state.account) return ctx.redirect(returnTo);
    const notice = ctx.query['signed_out'] === '1' ? SIGNED_OUT_NOTICE : null;
    return loginPage(ctx, { returnTo, notice });
  });

  router.post('/login', ...deps.formGuard, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const result = await deps.login.attempt(body['email'], body['password'], ctx.ip, provenanceOf(ctx));
    if (!result.ok) {
      const email = typeof body['email'] === 'string' ? body['email'] : '';
      return loginPage(ctx, { email, error: result.message, returnTo }, result.status);
    }
    ctx.status = 303;
    if (result.secondFactor) {
      setPendingSecondFactor(ctx, result.account.id, DASHBOARD, deps.secureCookies, deps.now());
      return ctx.redirect(`/login/2fa?return_to=${encodeURIComponent(returnTo)}`);
    }
    await deps.startDashboardSession(ctx, result.account.id, ['pwd']);
    ctx.redirect(returnTo);
  });

  // Passkey sign-in. Both sign-in forms ask here for options (one stored challenge for this
  // browser), then post the answer next to their password form (views/login.eta).
  router.post('/login/passkey/options', ...deps.formGuard, async (ctx) => {
    const limit = await deps.passkeyOptionsLimit(ctx.ip);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfter));
      ctx.status = 429;
      ctx.body = { message: `Too many sign-in attempts. Try again in ${limit.retryAfter} seconds.` };
      return;
    }
    ctx.body = await deps.passkeys.authenticationOptions(ctx.state.csrfToken!);
  });

  router.post('/login/passkey', ...deps.formGuard, async (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const result = await passkeySignIn(deps.passkeys, ctx);
    if (!result.ok) return loginPage(ctx, { error: result.message, returnTo }, result.status);
    await deps.startDashboardSession(ctx, result.account.id, PASSKEY_AMR);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  const secondFactorPage = (ctx: AppContext, returnTo: string, error: string | null, status = 200) =>
    render.page(
      ctx,
      'second-factor',
      { action: `/login/2fa?return_to=${encodeURIComponent(returnTo)}`, error },
      status,
    );

  router.get('/login/2fa', (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    if (!readPendingSecondFactor(ctx, DASHBOARD, deps.now())) return ctx.redirect('/login');
    return secondFactorPage(ctx, returnTo, null);
  });

  router.post('/login/2fa', ...deps.formGuard, async (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const userId = readPendingSecondFactor(ctx, DASHBOARD, deps.now());
    if (!userId) return loginPage(ctx, { error: 'Your sign-in expired. Please sign in again.', returnTo }, 401);
    const result = await deps.login.attemptSecondFactor(
      userId,
      (ctx.request.body as Record<string, unknown>)['code'],
      ctx.ip,
      provenanceOf(ctx),
    );
    if (!result.ok) return secondFactorPage(ctx, returnTo, result.message, result.status);
    clearPendingSecondFactor(ctx, deps.secureCookies);
    await deps.startDashboardSession(ctx, result.account.id, ['pwd', 'otp']);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  router.get('/signup', (ctx) => {
    if (!signupOpen) return render.error(ctx, 404, 'Sign-up is closed', 'Ask an administrator for an account.');
    return render.page(ctx, 'signup', { email: '', name: '', error: null });
  });

  router.post('/signup', ...deps.formGuard, async (ctx) => {
    if (!signupOpen) return render.error(ctx, 404, 'Sign-up is closed', 'Ask an administrator for an account.');
    const body = ctx.request.body as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const signupPage = (error: string, status: number) =>
      render.page(ctx, 'signup', { email: str(body['email']), name: str(body['name']), error }, status);
    const limit = await deps.signupLimit(ctx.ip);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfter));
      return signupPage(
        'Too many sign-ups from your address. ' +
          `Try again in ${limit.retryAfter} second${limit.retryAfter === 1 ? '' : 's'}.`,
        429,
      );
    }
    const email = str(body['email']).trim().toLowerCase().slice(0, 254);
    try {
      await deps.signUp({ email, password: str(body['password']), name: str(body['name']) }, provenanceOf(ctx));
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal || refusal.status >= 500) throw err;
      return signupPage(refusal.message, 400);
    }
    // The same page whether or not the address had an account (no account discovery), and no
    // sign-in: the inbox says which it was, to its owner only.
    return render.page(ctx, 'check-inbox', { email });
  });

  router.post('/logout', ...deps.formGuard, async (ctx) => {
    await deps.endSessions(ctx);
    ctx.status = 303;
    ctx.redirect('/login?signed_out=1');
  });

  return router;
}
