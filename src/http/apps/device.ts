import compose from 'koa-compose';
import mount from 'koa-mount';
import type { Middleware } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type Provider from 'oidc-provider';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import { MAX_RETURN_TO } from '../../features/accounts/accounts.pages.ts';
import type { Policy } from '../../features/rate-limit/decide.ts';
import { setRateLimitHeaders, type RateLimiter } from '../../features/rate-limit/rate-limiter.ts';
import type { DeviceLinkState } from '../../oidc/device-pages.ts';
import { issuerOrigin } from '../../oidc/issuer-origin.ts';
import type { AppContext, AppState } from '../context.ts';
import { csrf } from '../csrf.ts';
import { errorHandler, pageErrors } from '../error-handler.ts';
import type { Renderer } from '../render.ts';
import { securityHeaders } from '../security-headers.ts';
import { browserSession, linkProviderSession } from '../session.ts';

export interface DeviceAppDeps {
  provider: Provider;
  accounts: AccountsService;
  limiter: RateLimiter;
  /** RATE_LIMIT_DEVICE_CODE: code entries per address and per account. */
  entryPolicy: Policy;
  render: Renderer;
  issuer: string;
  secureCookies: boolean;
}

/**
 * The person signs in first (our one sign-in, which comes back here): the code they then type is
 * checked for an account, the application's consent is theirs, and code guesses count per account.
 */
function signedInFirst(): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.state.account) return next();
    const back = ctx.method === 'GET' && ctx.url.length <= MAX_RETURN_TO ? ctx.url : '/device';
    ctx.redirect(`/login?return_to=${encodeURIComponent(back)}`);
  };
}

/**
 * Every form post counts, per address and per signed-in account (the device form's brute-force
 * guard: a user code is short enough to type). Over the limit the form is not looked at.
 */
function limitCodeEntries(deps: DeviceAppDeps): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    let decision = await deps.limiter.check(`device-code:ip:${ctx.ip}`, deps.entryPolicy);
    if (decision.allowed) {
      decision = await deps.limiter.check(`device-code:user:${ctx.state.account!.id}`, deps.entryPolicy);
    }
    setRateLimitHeaders(ctx, decision, deps.limiter.now());
    if (decision.allowed) return next();
    ctx.set('Retry-After', String(decision.retryAfter));
    const message = `Too many codes entered. Try again in ${decision.retryAfter} seconds.`;
    deps.render.error(ctx, 429, 'Too many attempts', message);
  };
}

/**
 * verification_uri_complete (`/device?user_code=...`) shows the form with the code filled in: the
 * person checks it against the device and continues (RFC 8628 §5.4: a link alone never approves).
 * oidc-provider would instead post it on at once from a page with an inline script.
 */
function userCodeFromLink(): Middleware<AppState> {
  return async (ctx, next) => {
    const code = ctx.query['user_code'];
    if (ctx.method === 'GET' && ctx.path === '/device' && code !== undefined) {
      if (typeof code === 'string') (ctx.state as DeviceLinkState).userCodeFromLink = code.slice(0, 64);
      ctx.querystring = '';
    }
    await next();
  };
}

/**
 * `/device` (RFC 8628's verification_uri) and `/device/:uid` (where the sign-in and consent come
 * back to): oidc-provider's code verification, our pages (oidc/device-pages.ts). Page headers,
 * the browser session, our CSRF token on the form as well as oidc-provider's own `xsrf`.
 */
export function deviceApp(deps: DeviceAppDeps): Middleware<AppState> {
  const csrfCheck = csrf({ secure: deps.secureCookies });
  // Read once here (oidc-provider takes the parsed form from `request.body`), then checked.
  const formGuard = compose([bodyParser({ enableTypes: ['form'], formLimit: '16kb' }), csrfCheck]);
  return compose([
    errorHandler(pageErrors(deps.render)),
    securityHeaders({ hsts: deps.secureCookies, pages: true }),
    browserSession(deps.accounts),
    signedInFirst(),
    async (ctx: AppContext, next) => (ctx.method === 'POST' ? next() : csrfCheck(ctx, next)),
    limitCodeEntries(deps),
    async (ctx: AppContext, next) => (ctx.method === 'POST' ? formGuard(ctx, next) : next()),
    linkProviderSession(deps.accounts),
    userCodeFromLink(),
    issuerOrigin(deps.issuer) as Middleware<AppState>,
    mount(deps.provider as never) as Middleware<AppState>,
  ] as Middleware<AppState>[]) as Middleware<AppState>;
}
