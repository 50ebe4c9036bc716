import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import { MAX_RETURN_TO } from './accounts.pages.ts';

/** Where the re-confirmation page lives; it returns to `return_to` afterwards. */
export const CONFIRM_PATH = '/settings/confirm';

export const confirmUrl = (returnTo: string) => `${CONFIRM_PATH}?return_to=${encodeURIComponent(returnTo)}`;

/** Whether this browser authenticated interactively (sign-in or re-confirmation) within `maxAgeMs`. */
export const isFresh = (ctx: AppContext, maxAgeMs: number, now: number) =>
  now - (ctx.state.authenticatedAt ?? 0) <= maxAgeMs;

/**
 * Sudo mode for page routes: the account-security changes (password, second factor, recovery codes)
 * need a fresh interactive authentication, not just the session cookie, which may have been stolen
 * or left open. A stale session is sent to the re-confirmation page, which comes back to `formPage`
 * (the form, to submit again: a POST is never replayed for the person).
 */
export function requireFreshAuth(opts: { maxAgeMs: number; now(): number; formPage: string }): Middleware<AppState> {
  return async (ctx, next) => {
    if (!ctx.state.account) {
      ctx.status = 303;
      return ctx.redirect(`/login?return_to=${encodeURIComponent(opts.formPage)}`);
    }
    if (isFresh(ctx, opts.maxAgeMs, opts.now())) return next();
    const returnTo = ctx.method === 'GET' && ctx.url.length <= MAX_RETURN_TO ? ctx.url : opts.formPage;
    ctx.status = 303;
    ctx.redirect(confirmUrl(returnTo));
  };
}
