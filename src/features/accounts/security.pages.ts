import Router from '@koa/router';
import type { Middleware } from 'koa';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import type { TwoFactorService } from './two-factor.service.ts';
import type { Login } from './login.ts';
import { MAX_RETURN_TO } from './accounts.pages.ts';

export interface SecurityPagesDeps {
  accounts: AccountsService;
  twoFactor: TwoFactorService;
  login: Login;
  /** Takes back every application's access of an account (grants, refresh and access tokens). */
  revokeAllApplications(userId: string): Promise<void>;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  /** Sudo mode (fresh-auth.ts): every change here needs a recent interactive authentication. */
  freshAuth: Middleware<AppState>;
}

/**
 * Settings → Security: change password; turn TOTP two-factor authentication on (QR code and text
 * secret, confirmed with a first code, then ten recovery codes shown once) and off (password and
 * a code). Secrets are rendered straight into the response (no-store), never put in a URL. Every
 * change needs sudo mode, and every password or code checked here is throttled like sign-in.
 */
export function securityPagesRouter(deps: SecurityPagesDeps): Router<AppState> {
  const { accounts, twoFactor, render, freshAuth } = deps;
  // CSRF first: a forged form is refused as such, whatever the session's age.
  const guard = [...deps.formGuard, freshAuth];
  const router = new Router<AppState>({ prefix: '/settings/security' });

  router.use(async (ctx, next) => {
    if (!ctx.state.account)
      return ctx.redirect(
        `/login?return_to=${encodeURIComponent(ctx.path.length <= MAX_RETURN_TO ? ctx.path : '/settings/security')}`,
      );
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const overview = async (ctx: AppContext, notice: { error?: string; message?: string } = {}, status = 200) => {
    const account = ctx.state.account!;
    render.page(
      ctx,
      'security/overview',
      {
        wide: true,
        section: 'security',
        status: await twoFactor.status(account.id),
        error: notice.error ?? null,
        message: notice.message ?? null,
      },
      status,
    );
  };

  router.get('/', (ctx) => overview(ctx));

  router.post('/password', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const body = ctx.request.body as Record<string, unknown>;
    const current = await deps.login.recheckPassword(account, body['current_password'], ctx.ip);
    if (!current.ok) {
      return overview(
        ctx,
        { error: current.status === 429 ? current.message : 'The current password is not right' },
        current.status === 429 ? 429 : 400,
      );
    }
    try {
      const next = body['new_password'];
      await accounts.setPassword(account.id, ctx.state.sessionId!, typeof next === 'string' ? next : '');
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      return overview(ctx, { error: refusal.message }, refusal.status);
    }
    // A checkbox, checked by default: whoever had the old password may have authorized apps too.
    const revokeApps = body['revoke_applications'] === 'on';
    if (revokeApps) await deps.revokeAllApplications(account.id);
    await overview(ctx, {
      message:
        'Password changed. Your other sessions were signed out' +
        `${revokeApps ? " and every application's access was revoked" : ''}.`,
    });
  });

  router.post('/2fa/begin', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    try {
      const enrollment = await twoFactor.begin(account.id, account.email);
      render.page(ctx, 'security/enroll', { wide: true, section: 'security', ...enrollment, error: null });
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      await overview(ctx, { error: refusal.message }, refusal.status);
    }
  });

  router.post('/2fa/confirm', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const code = String((ctx.request.body as Record<string, unknown>)['code'] ?? '');
    try {
      const codes = await twoFactor.confirm(account.id, code);
      render.page(ctx, 'security/recovery-codes', { wide: true, section: 'security', codes });
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      // Show the same secret again: the pending one stays until confirmed.
      await overview(ctx, { error: `${refusal.message} Start again to get a new QR code.` }, refusal.status);
    }
  });

  router.post('/2fa/disable', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const body = ctx.request.body as Record<string, unknown>;
    const code = await deps.login.recheckCode(account, String(body['code'] ?? ''), ctx.ip);
    const checked = code.ok ? await deps.login.recheckPassword(account, body['password'], ctx.ip) : code;
    if (!checked.ok) {
      const error =
        checked.status === 429
          ? checked.message
          : 'To turn off two-factor authentication, enter your password and a current code.';
      return overview(ctx, { error }, checked.status === 429 ? 429 : 400);
    }
    await twoFactor.disable(account.id);
    await overview(ctx, { message: 'Two-factor authentication is off.' });
  });

  return router;
}
