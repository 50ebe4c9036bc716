import Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError } from '../../http/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import type { TwoFactorService } from './two-factor.service.ts';
import { MAX_RETURN_TO } from './accounts.pages.ts';

export interface SecurityPagesDeps {
  accounts: AccountsService;
  twoFactor: TwoFactorService;
  render: Renderer;
  formGuard: Middleware<AppState>[];
}

/**
 * Settings → Security: change password; turn TOTP two-factor authentication on (QR code and text
 * secret, confirmed with a first code, then ten recovery codes shown once) and off (password and
 * a code). Secrets are rendered straight into the response (no-store), never put in a URL.
 */
export function securityPagesRouter(deps: SecurityPagesDeps): Router<AppState> {
  const { accounts, twoFactor, render } = deps;
  const router = new Router<AppState>({ prefix: '/settings/security' });

  router.use(async (ctx, next) => {
    if (!ctx.state.account) return ctx.redirect(`/login?return_to=${encodeURIComponent(ctx.path.length <= MAX_RETURN_TO ? ctx.path : '/settings/security')}`);
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const overview = async (ctx: AppContext, notice: { error?: string; message?: string } = {}, status = 200) => {
    const account = ctx.state.account!;
    render.page(ctx, 'security/overview', { wide: true, section: 'security', status: await twoFactor.status(account.id), error: notice.error ?? null, message: notice.message ?? null }, status);
  };

  router.get('/', (ctx) => overview(ctx));

  router.post('/password', ...deps.formGuard, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    try {
      await accounts.changePassword(ctx.state.account!.id, ctx.state.sessionId!, body['current_password'], body['new_password']);
      await overview(ctx, { message: 'Password changed. Your other sessions were signed out.' });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      await overview(ctx, { error: err.message }, err.status);
    }
  });

  router.post('/2fa/begin', ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account!;
    const enrollment = await twoFactor.begin(account.id, account.email);
    render.page(ctx, 'security/enroll', { wide: true, section: 'security', ...enrollment, error: null });
  });

  router.post('/2fa/confirm', ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account!;
    const code = String((ctx.request.body as Record<string, unknown>)['code'] ?? '');
    try {
      const codes = await twoFactor.confirm(account.id, code);
      render.page(ctx, 'security/recovery-codes', { wide: true, section: 'security', codes });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      // Show the same secret again: the pending one stays until confirmed.
      await overview(ctx, { error: `${err.message} Start again to get a new QR code.` }, err.status);
    }
  });

  router.post('/2fa/disable', ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account!;
    const body = ctx.request.body as Record<string, unknown>;
    const passwordOk = await accounts.passwordMatches(account.id, body['password']);
    const codeOk = passwordOk && (await twoFactor.verify(account.id, String(body['code'] ?? '')));
    if (!passwordOk || !codeOk) {
      return overview(ctx, { error: 'To turn off two-factor authentication, enter your password and a current code.' }, 400);
    }
    await twoFactor.disable(account.id);
    await overview(ctx, { message: 'Two-factor authentication is off.' });
  });

  return router;
}
