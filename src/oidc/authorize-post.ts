import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../http/context.ts';
import { readBody } from './protocol-body.ts';

/**
 * The largest form an authorization request may be POSTed as: it becomes a URL, and 8 KiB stays
 * well inside what Node (16 KiB of headers) and the proxies in front of it accept.
 */
const MAX_POSTED_REQUEST_BYTES = 8 * 1024;

/**
 * A form POST to the authorization endpoint (OpenID Connect Core §3.1.2.1 allows GET and POST) is
 * answered with a 303 to the same endpoint, its parameters as the query: the same request as a GET.
 *
 * Why not let oidc-provider take the POST: it then insists its session cookie be `SameSite=None`,
 * and a relying party's form on another site is a cross-site POST, on which browsers send no `Lax`
 * cookie. `None` would send Latchkey's sign-in on every cross-site request (and needs `Secure`, so
 * it cannot work on an http development issuer at all). A 303 turns the POST into a top-level GET
 * navigation, on which browsers do send `Lax` cookies, so a person signed in here is recognised
 * (and `prompt=none` works) while every cookie stays `Lax`. Only the parameters' place changes:
 * they are in a URL, as for any GET request. The raw form is kept as it came (order, repeats), so
 * oidc-provider sees exactly what was posted and refuses a repeated parameter itself.
 */
export function postedAuthorizationAsGet(
  renderError: (ctx: AppContext, status: number, title: string, message: string) => void,
): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !ctx.is('application/x-www-form-urlencoded')) return next();
    const raw = await readBody(ctx.req, MAX_POSTED_REQUEST_BYTES);
    if (raw === null) {
      return renderError(ctx, 413, 'Request too large', 'This sign-in request is too large to be accepted.');
    }
    const query = new URLSearchParams(raw).toString();
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(`${ctx.path}?${query}`);
  };
}
