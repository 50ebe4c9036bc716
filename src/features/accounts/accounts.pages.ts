import Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError } from '../../http/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import type { Login } from './login.ts';
import { clearPendingSecondFactor, readPendingSecondFactor, setPendingSecondFactor } from './pending-second-factor.ts';

const DASHBOARD = 'dashboard';

export interface AccountPagesDeps {
  accounts: AccountsService;
  login: Login;
  render: Renderer;
  signupOpen: boolean;
  secureCookies: boolean;
  now(): number;
  startDashboardSession(ctx: AppContext, userId: string): Promise<void>;
  /** Ends the dashboard session and the OAuth (provider) session of this browser. */
  endSessions(ctx: AppContext): Promise<void>;
  formGuard: Middleware<AppState>[];
}

/** Longer return paths are dropped: re-encoded into a Location header they could outgrow what clients and proxies accept (16 KiB in Node). */
export const MAX_RETURN_TO = 2_000;

/** Only same-site paths may be returned to after sign-in (no open redirect). */
function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && value.length <= MAX_RETURN_TO && /^\/(?![/\\])/.test(value) ? value : '/dashboard';
}

/** Sign-up, sign-in and sign-out (the dashboard itself lives in features/dashboard). */
export function accountPagesRouter(deps: AccountPagesDeps): Router<AppState> {
  const { accounts, render, signupOpen } = deps;
  const router = new Router<AppState>();

  const loginPage = (ctx: AppContext, data: { email?: string; error?: string | null; returnTo?: string }, status = 200) =>
    render.page(ctx, 'login', {
      action: `/login?return_to=${encodeURIComponent(data.returnTo ?? '/dashboard')}`,
      email: data.email ?? '',
      error: data.error ?? null,
      signupOpen,
    }, status);

  router.get('/', (ctx) => ctx.redirect(ctx.state.account ? '/dashboard' : '/login'));

  router.get('/login', (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    if (ctx.state.account) return ctx.redirect(returnTo);
    return loginPage(ctx, { returnTo });
  });

  router.post('/login', ...deps.formGuard, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const result = await deps.login.attempt(body['email'], body['password'], ctx.ip);
    if (!result.ok) {
      const email = typeof body['email'] === 'string' ? body['email'] : '';
      return loginPage(ctx, { email, error: result.message, returnTo }, result.status);
    }
    ctx.status = 303;
    if (result.secondFactor) {
      setPendingSecondFactor(ctx, result.account.id, DASHBOARD, deps.secureCookies, deps.now());
      return ctx.redirect(`/login/2fa?return_to=${encodeURIComponent(returnTo)}`);
    }
    await deps.startDashboardSession(ctx, result.account.id);
    ctx.redirect(returnTo);
  });

  const secondFactorPage = (ctx: AppContext, returnTo: string, error: string | null, status = 200) =>
    render.page(ctx, 'second-factor', { action: `/login/2fa?return_to=${encodeURIComponent(returnTo)}`, error }, status);

  router.get('/login/2fa', (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    if (!readPendingSecondFactor(ctx, DASHBOARD, deps.now())) return ctx.redirect('/login');
    return secondFactorPage(ctx, returnTo, null);
  });

  router.post('/login/2fa', ...deps.formGuard, async (ctx) => {
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const userId = readPendingSecondFactor(ctx, DASHBOARD, deps.now());
    if (!userId) return loginPage(ctx, { error: 'Your sign-in expired. Please sign in again.', returnTo }, 401);
    const result = await deps.login.attemptSecondFactor(userId, (ctx.request.body as Record<string, unknown>)['code'], ctx.ip);
    if (!result.ok) return secondFactorPage(ctx, returnTo, result.message, result.status);
    clearPendingSecondFactor(ctx, deps.secureCookies);
    await deps.startDashboardSession(ctx, result.account.id);
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
    try {
      const account = await accounts.signUp({ email: body['email'], password: body['password'], name: body['name'] });
      await deps.startDashboardSession(ctx, account.id);
      ctx.status = 303;
      ctx.redirect('/dashboard');
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const str = (v: unknown) => (typeof v === 'string' ? v : '');
      render.page(ctx, 'signup', { email: str(body['email']), name: str(body['name']), error: err.message }, err.status === 409 ? 409 : 400);
    }
  });

  router.post('/logout', ...deps.formGuard, async (ctx) => {
    await deps.endSessions(ctx);
    ctx.status = 303;
    ctx.redirect('/login');
  });

  return router;
}
