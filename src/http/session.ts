import type { Middleware } from 'koa';
import type { Account } from '../domain/account.ts';
import type { AppContext, AppState } from './context.ts';

export const SESSION_COOKIE = 'lk_session';

/** Reads the dashboard session cookie (signed) and puts its account on ctx.state. */
/** Where a session id's account is read (the accounts service). */
export interface SessionAccounts {
  sessionAccount(id: string): Promise<{ account: Account; authenticatedAt: number } | null>;
}

export function browserSession(accounts: SessionAccounts): Middleware<AppState> {
  return async (ctx, next) => {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    if (id) {
      const session = await accounts.sessionAccount(id);
      if (session) {
        ctx.state.account = session.account;
        ctx.state.sessionId = id;
        ctx.state.authenticatedAt = session.authenticatedAt;
      }
    }
    ctx.state.account ??= null;
    await next();
  };
}

export function setSessionCookie(ctx: AppContext, id: string, expiresAt: number, secure: boolean): void {
  ctx.cookies.set(SESSION_COOKIE, id, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(ctx: AppContext, secure: boolean): void {
  ctx.cookies.set(SESSION_COOKIE, null, { signed: true, httpOnly: true, sameSite: 'lax', secure });
}
