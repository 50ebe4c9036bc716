import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import { safeReturnTo } from './accounts.pages.ts';
import { CONFIRM_PATH } from './fresh-auth.ts';
import type { Login } from './login.ts';

export interface ConfirmPagesDeps {
  accounts: AccountsService;
  login: Login;
  render: Renderer;
  formGuard: Middleware<AppState>[];
}

/**
 * The re-confirmation page of sudo mode: the signed-in person enters their password, or a code
 * from their authenticator app when two-factor authentication is on (a password alone would then
 * be a weaker factor than the session already had), throttled like sign-in; the session is then
 * fresh and the browser goes back to the form it came from.
 */
export function confirmPagesRouter(deps: ConfirmPagesDeps): Router<AppState> {
  const { accounts, render } = deps;
  const router = new Router<AppState>();

  const page = (ctx: AppContext, returnTo: string, error: string | null, status = 200) => {
    ctx.set('Cache-Control', 'no-store');
    render.page(
      ctx,
      'security/confirm',
      {
        action: `${CONFIRM_PATH}?return_to=${encodeURIComponent(returnTo)}`,
        email: ctx.state.account!.email,
        withCode: ctx.state.account!.twoFactor,
        error,
      },
      status,
    );
  };

  router.use(CONFIRM_PATH, async (ctx, next) => {
    if (ctx.state.account) return next();
    ctx.status = 303;
    ctx.redirect(`/login?return_to=${encodeURIComponent(safeReturnTo(ctx.query['return_to']))}`);
  });

  router.get(CONFIRM_PATH, (ctx) => page(ctx, safeReturnTo(ctx.query['return_to']), null));

  router.post(CONFIRM_PATH, ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account!;
    const returnTo = safeReturnTo(ctx.query['return_to']);
    const body = ctx.request.body as Record<string, unknown>;
    const result = account.twoFactor
      ? await deps.login.recheckCode(account, body['code'], ctx.ip)
      : await deps.login.recheckPassword(account, body['password'], ctx.ip);
    if (!result.ok) {
      const message =
        result.status === 429
          ? result.message
          : account.twoFactor
            ? 'That code is not valid.'
            : 'That password is not right.';
      return page(ctx, returnTo, message, result.status);
    }
    await accounts.reconfirmSession(ctx.state.sessionId!);
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  return router;
}
