import type { AppContext } from './context.ts';

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

/** Every answer of a CORS-enabled API varies with the Origin (set once among its constant headers). */
export const VARY_ORIGIN = ['Vary', 'Origin'] as const;

/**
 * CORS for an API called with bearer tokens from other origins' pages (RFC 6750; Fetch standard
 * CORS protocol). A preflight is answered here, never by the routes: the step says whether it
 * answered. An actual request from an allowed origin gets `Access-Control-Allow-Origin` naming it
 * (errors too, so a page can read a 401's challenge). Never `Access-Control-Allow-Credentials`:
 * cookies are not a credential here, and a cross-origin request must not be authenticated by one
 * (see `foreignOrCookieless`). The answer carries VARY_ORIGIN. A request without an Origin (a
 * server's, a same-origin GET) is none of CORS's business, and is not made to wait for a promise.
 */
export function corsStep(opts: {
  /** Whether a page of this origin may call the API (cheap: called on every cross-origin request). */
  allowed(origin: string): Promise<boolean>;
  methods: readonly string[];
}): (ctx: AppContext) => boolean | Promise<boolean> {
  const methods = opts.methods.join(', ');
  const answer = async (ctx: AppContext, origin: string): Promise<boolean> => {
    const allowed = origin !== 'null' && (await opts.allowed(origin));
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
      ctx.status = 204;
      if (!allowed) return true;
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', methods);
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
      return true;
    }
    if (allowed) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    return false;
  };
  return (ctx) => {
    const origin = ctx.get('Origin');
    return origin === '' ? false : answer(ctx, origin);
  };
}

/**
 * Whether the session step is to be skipped: it runs only for requests from our own origin or
 * with no Origin (a top-level navigation, a same-origin GET, a non-browser client); a page of
 * another origin never acts with the dashboard session cookie, allowed by CORS or not; it must
 * present a bearer token. A browser's `Sec-Fetch-Site` counts too: a sibling subdomain's
 * `<script src>` sends the cookie but no Origin. Without a Cookie header there is no session to
 * find (a bearer client's case).
 */
export function foreignOrCookieless(ctx: AppContext, ownOrigin: string): boolean {
  const headers = ctx.req.headers;
  if (!headers.cookie) return true;
  const origin = ctx.get('Origin');
  const site = ctx.get('Sec-Fetch-Site');
  return Boolean(origin && origin !== ownOrigin) || site === 'cross-site' || site === 'same-site';
}
