import type { AppContext } from '../../http/context.ts';

const COOKIE = 'lk_2fa';
const TTL_MS = 5 * 60_000;

/**
 * Between a correct password and the second factor: a signed, HttpOnly cookie naming the account
 * and what the login is for (`bind`: the dashboard, or one OAuth interaction). It proves only that
 * the password was right a moment ago; nothing is granted until the code is checked.
 */
export function setPendingSecondFactor(
  ctx: AppContext,
  userId: string,
  bind: string,
  secure: boolean,
  now: number,
): void {
  const value = Buffer.from(JSON.stringify({ u: userId, e: now + TTL_MS, b: bind })).toString('base64url');
  ctx.cookies.set(COOKIE, value, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    expires: new Date(now + TTL_MS),
  });
}

/** The pending account for this `bind`, or null when absent, expired or for something else. */
export function readPendingSecondFactor(ctx: AppContext, bind: string, now: number): string | null {
  const raw = ctx.cookies.get(COOKIE, { signed: true });
  if (!raw) return null;
  try {
    const { u, e, b } = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as {
      u: string;
      e: number;
      b: string;
    };
    return b === bind && e > now && typeof u === 'string' ? u : null;
  } catch {
    return null;
  }
}

export function clearPendingSecondFactor(ctx: AppContext, secure: boolean): void {
  ctx.cookies.set(COOKIE, null, { signed: true, httpOnly: true, sameSite: 'lax', secure });
}
