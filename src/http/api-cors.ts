import type { Middleware } from 'koa';
import type { AppState } from './context.ts';

/** What a page may send: its bearer token, a JSON body, a DPoP proof, our versioning headers. */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'DPoP',
  'X-API-Version',
  'X-Client-Version',
  'X-Request-ID',
].join(', ');
/** What a page may read besides the CORS-safelisted headers: versions, limits, refusals, DPoP nonces. */
const EXPOSED_HEADERS = [
  'X-API-Version',
  'X-Request-ID',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'RateLimit-Policy',
  'RateLimit',
  'Retry-After',
  'WWW-Authenticate',
  'DPoP-Nonce',
].join(', ');
/**
 * How long a browser may reuse a preflight's answer: 10 minutes. Only preflights are cached; every
 * actual answer is checked against the current origins, so a removed origin loses its reads at once.
 */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for an API called with bearer tokens from other origins' pages (RFC 6750; Fetch standard
 * CORS protocol). A preflight is answered here, never by the routes; an actual request from an
 * allowed origin gets `Access-Control-Allow-Origin` naming it (errors too, so a page can read a
 * 401's challenge). Never `Access-Control-Allow-Credentials`: cookies are not a credential here,
 * and a cross-origin request must not be authenticated by one (see `withoutForeignSession`).
 */
export function apiCors(opts: {
  /** Whether a page of this origin may call the API (cheap: called on every cross-origin request). */
  allowed(origin: string): Promise<boolean>;
  methods: readonly string[];
}): Middleware<AppState> {
  const methods = opts.methods.join(', ');
  return async (ctx, next) => {
    ctx.vary('Origin');
    const origin = ctx.get('Origin');
    const allowed = origin !== '' && origin !== 'null' && (await opts.allowed(origin));
    if (ctx.method === 'OPTIONS' && origin && ctx.get('Access-Control-Request-Method')) {
      ctx.status = 204;
      if (!allowed) return;
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', methods);
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
      return;
    }
    if (allowed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    await next();
  };
}

/**
 * Runs the session step only for requests from our own origin or with no Origin (a top-level
 * navigation, a same-origin GET, a non-browser client): a page of another origin never acts with
 * the dashboard session cookie, allowed by CORS or not; it must present a bearer token. A browser's
 * `Sec-Fetch-Site` counts too: a sibling subdomain's `<script src>` sends the cookie but no Origin.
 */
export function withoutForeignSession(ownOrigin: string, session: Middleware<AppState>): Middleware<AppState> {
  return (ctx, next) => {
    const origin = ctx.get('Origin');
    const site = ctx.get('Sec-Fetch-Site');
    const foreign = (origin && origin !== ownOrigin) || site === 'cross-site' || site === 'same-site';
    // No Cookie header, no session to find (the session step would find none): a bearer client's case.
    if (foreign || !ctx.req.headers.cookie) {
      ctx.state.account = null;
      return next();
    }
    return session(ctx, next);
  };
}
