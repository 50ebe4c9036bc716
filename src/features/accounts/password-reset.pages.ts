import Router from '@koa/router';
import type { Middleware } from 'koa';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import { clearSessionCookie } from '../../http/session.ts';
import type { Renderer } from '../../http/render.ts';
import { emailSchema } from '../../wire/accounts.ts';
import type { Decision } from '../rate-limit/decide.ts';
import { forgotPasswordHref, safeReturnTo } from './accounts.pages.ts';
import type { PasswordReset } from './password-reset.ts';
import { provenanceOf } from '../../http/request-facts.ts';

export interface PasswordResetPagesDeps {
  passwordReset: PasswordReset;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  secureCookies: boolean;
  /** Counts a reset request for this address and from this client address (RATE_LIMIT_PASSWORD_RESET). */
  resetLimit(email: string, ip: string): Promise<Decision>;
}

/** The path "Forgot password?" came from (the dashboard's sign-in, or an application's): null for the dashboard. */
function returnToOf(value: unknown): string | null {
  const path = safeReturnTo(value);
  return path === '/dashboard' ? null : path;
}

/** Where "Sign in" leads after a reset: back to the application's sign-in when it started there. */
function signInHref(returnTo: string | null): string {
  if (returnTo === null) return '/login';
  if (returnTo.startsWith('/interaction/')) return returnTo;
  return `/login?return_to=${encodeURIComponent(returnTo)}`;
}

/**
 * "Forgot password?" answers no sooner than this after the request came in, whatever it found: the
 * work for an address with an account (done after the answer, but on the same process) must not
 * show in the answer's time. A person does not notice a quarter of a second.
 */
const FORGOT_ANSWER_FLOOR_MS = 250;

const withReturnTo = (path: string, returnTo: string | null) =>
  returnTo === null ? path : `${path}?return_to=${encodeURIComponent(returnTo)}`;

/**
 * "Forgot password?" (`/password/forgot`) and the emailed link (`/password/reset?token=`). Asking
 * answers the same page whatever the address, over the rate limit included (then no mail goes);
 * the link shows a form first and is used only by a password the policy accepts.
 */
export function passwordResetPagesRouter(deps: PasswordResetPagesDeps): Router<AppState> {
  const { passwordReset, render } = deps;
  const router = new Router<AppState>({ prefix: '/password' });

  router.get('/forgot', (ctx) => {
    const returnTo = returnToOf(ctx.query['return_to']);
    render.page(ctx, 'password-forgot', {
      sent: false,
      action: withReturnTo('/password/forgot', returnTo),
      signInHref: signInHref(returnTo),
    });
  });

  router.post('/forgot', ...deps.formGuard, async (ctx) => {
    const started = performance.now();
    const returnTo = returnToOf(ctx.query['return_to']);
    const typed = (ctx.request.body as Record<string, unknown>)['email'];
    const email = typeof typed === 'string' ? typed.trim().toLowerCase().slice(0, 254) : '';
    const parsed = emailSchema.safeParse(email);
    if (parsed.success) {
      const limit = await deps.resetLimit(parsed.data, ctx.ip);
      if (limit.allowed) {
        passwordReset.requestInBackground(parsed.data, returnTo, (err) =>
          ctx.state.log.error({ err }, 'could not queue a password reset link'),
        );
      }
    }
    const wait = FORGOT_ANSWER_FLOOR_MS - (performance.now() - started);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    render.page(ctx, 'password-forgot', {
      sent: true,
      email,
      againHref: forgotPasswordHref(returnTo ?? '/dashboard'),
      signInHref: signInHref(returnTo),
    });
  });

  const resetPage = (
    ctx: AppContext,
    returnTo: string | null,
    state: 'form' | 'done' | 'unusable',
    data: { token?: unknown; error?: string } = {},
    status = 200,
  ) =>
    render.page(
      ctx,
      'password-reset',
      {
        state,
        heading: { form: 'Choose a new password', done: 'Password changed', unusable: 'This link has expired' }[state],
        action: withReturnTo('/password/reset', returnTo),
        token: typeof data.token === 'string' ? data.token : '',
        error: data.error ?? null,
        signInHref: signInHref(returnTo),
        againHref: forgotPasswordHref(returnTo ?? '/dashboard'),
      },
      status,
    );

  router.get('/reset', async (ctx) => {
    const returnTo = returnToOf(ctx.query['return_to']);
    const token = ctx.query['token'];
    if (!(await passwordReset.usable(token))) return resetPage(ctx, returnTo, 'unusable', {}, 400);
    return resetPage(ctx, returnTo, 'form', { token });
  });

  router.post('/reset', ...deps.formGuard, async (ctx) => {
    const returnTo = returnToOf(ctx.query['return_to']);
    const body = ctx.request.body as Record<string, unknown>;
    try {
      const outcome = await passwordReset.reset(body['token'], body['new_password'], provenanceOf(ctx));
      if (!outcome.ok) return resetPage(ctx, returnTo, 'unusable', {}, 400);
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal || refusal.status >= 500) throw err;
      return resetPage(ctx, returnTo, 'form', { token: body['token'], error: refusal.message }, 400);
    }
    // Every session of the account ended, this browser's too: it shows as signed out at once.
    clearSessionCookie(ctx, deps.secureCookies);
    ctx.state.account = null;
    return resetPage(ctx, returnTo, 'done');
  });

  return router;
}
