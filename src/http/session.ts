import type { Middleware } from 'koa';
import type { Account } from '../domain/account.ts';
import type { AppContext, AppState } from './context.ts';

export const SESSION_COOKIE = 'lk_session';

/** Where a session id's account is read (the accounts service). */
export interface SessionAccounts {
  sessionAccount(id: string): Promise<{
    account: Account;
    authenticatedAt: number;
    lastSeenAt: number;
    providerLink: string | null;
    amr: string[];
  } | null>;
  sessionSeen(id: string, lastSeenAt: number, ip: string): Promise<void>;
  linkProviderSession(id: string, userId: string, providerUid: string, currentLink: string | null): Promise<void>;
}

/**
 * Reads the dashboard session cookie (signed) and puts its account on ctx.state. The session's
 * use is recorded for Settings → Sessions, at most once a minute (the service decides), so pages do
 * not each cost a write.
 */
export function browserSession(accounts: SessionAccounts): Middleware<AppState> {
  return async (ctx, next) => {
    await readBrowserSession(ctx, accounts);
    await next();
  };
}

/** The step of `browserSession` without a `next`, for an app that runs it among others. */
export async function readBrowserSession(ctx: AppContext, accounts: SessionAccounts): Promise<void> {
  const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
  if (id) {
    const session = await accounts.sessionAccount(id);
    if (session) {
      ctx.state.account = session.account;
      ctx.state.sessionId = id;
      ctx.state.authenticatedAt = session.authenticatedAt;
      ctx.state.sessionProviderLink = session.providerLink;
      ctx.state.sessionAmr = session.amr;
      await accounts.sessionSeen(id, session.lastSeenAt, ctx.ip);
    }
  }
  ctx.state.account ??= null;
}

/**
 * After oidc-provider has answered a browser: when its sign-in session belongs to the account of
 * this browser's dashboard session, the two are linked, so signing the dashboard session out from
 * Settings → Sessions ends the provider session as well (no more silent authorizations there).
 */
export function linkProviderSession(accounts: SessionAccounts): Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    const provider = (ctx as { oidc?: { session?: { uid?: unknown; accountId?: unknown } } }).oidc?.session;
    const { account, sessionId } = ctx.state;
    if (!account || !sessionId || !provider || provider.accountId !== account.id) return;
    if (typeof provider.uid !== 'string') return;
    await accounts.linkProviderSession(sessionId, account.id, provider.uid, ctx.state.sessionProviderLink ?? null);
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
