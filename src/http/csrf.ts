import type { Middleware } from 'koa';
import { randomBase62, safeEqual } from '../shared/secrets.ts';
import { AppError } from './errors.ts';
import type { AppState } from './context.ts';

export const CSRF_COOKIE = 'lk_csrf';
export const CSRF_FIELD = '_csrf';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * CSRF protection for browser forms: a signed double-submit cookie. Every browser gets a random
 * token in a signed, HttpOnly cookie; forms carry the same token in `_csrf`; an unsafe request
 * whose field does not match (constant-time) is refused. The signature stops a sibling subdomain
 * from planting a cookie of its choosing. JSON requests may send the token in `X-CSRF-Token`.
 */
export function csrf(opts: { secure: boolean }): Middleware<AppState> {
  return async (ctx, next) => {
    let token = ctx.cookies.get(CSRF_COOKIE, { signed: true });
    if (!token) {
      token = randomBase62(32);
      ctx.cookies.set(CSRF_COOKIE, token, { signed: true, httpOnly: true, sameSite: 'lax', secure: opts.secure });
    }
    ctx.state.csrfToken = token;
    if (UNSAFE.has(ctx.method)) {
      const body = (ctx.request as { body?: unknown }).body;
      const sent =
        (body && typeof body === 'object' && typeof (body as Record<string, unknown>)[CSRF_FIELD] === 'string'
          ? ((body as Record<string, unknown>)[CSRF_FIELD] as string)
          : undefined) ?? ctx.get('X-CSRF-Token');
      if (!sent || !safeEqual(sent, token)) {
        throw new AppError('FORBIDDEN', 'This form has expired. Go back, reload the page and try again.');
      }
    }
    await next();
  };
}
