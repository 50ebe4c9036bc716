import type { Middleware } from 'koa';
import type { AppState } from '../../http/context.ts';
import type { Account } from '../../domain/account.ts';
import { Forbidden, NotFound } from '../../domain/errors.ts';

/** Whether an account may open the operators' console (admins change things, auditors only look). */
export const seesConsole = (account: Pick<Account, 'isAdmin' | 'isAuditor'>) => account.isAdmin || account.isAuditor;

/**
 * The console's gate: a signed-in admin or auditor, else "Page not found" (the console does not
 * announce itself to everyone else). Only admins may change anything: an auditor's form post is
 * refused whatever it names, before any handler runs. Changes also need a fresh sign-in (`fresh`).
 */
export function consoleAccess(fresh: Middleware<AppState>): Middleware<AppState> {
  return async (ctx, next) => {
    const account = ctx.state.account;
    if (!account) {
      ctx.status = 303;
      const back = ctx.method === 'GET' && ctx.originalUrl.length <= 512 ? ctx.originalUrl : '/admin';
      return ctx.redirect(`/login?return_to=${encodeURIComponent(back)}`);
    }
    if (!seesConsole(account)) throw new NotFound('Page');
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return next();
    if (!account.isAdmin) throw new Forbidden('Auditors can see the console but not change anything.');
    return fresh(ctx, next);
  };
}
