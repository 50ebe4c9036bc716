import crypto from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from './context.ts';

/** Nonces come from a block of random bytes refilled every 256 requests (one system call, not one each). */
function nonceSource(): () => string {
  const block = Buffer.alloc(16 * 256);
  let next = block.length;
  return () => {
    if (next === block.length) {
      crypto.randomFillSync(block);
      next = 0;
    }
    const nonce = block.toString('base64', next, next + 16);
    next += 16;
    return nonce;
  };
}

const PAGE_IMG_SRC = "img-src 'self' data:";

/** Headers as name and value, made once and set on each answer in this order. */
export type HeaderList = readonly (readonly [string, string])[];

function commonHeaders(hsts: boolean): HeaderList {
  return [
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Referrer-Policy', 'no-referrer'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ['Permissions-Policy', 'camera=(), microphone=(), geolocation=()'],
    ...(hsts ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
  ];
}

/** The security headers of an answer that is never HTML: a policy that allows nothing, no nonce. */
export function apiSecurityHeaders(hsts: boolean): HeaderList {
  return [...commonHeaders(hsts), ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"]];
}

/** Straight onto the response, as ctx.set does for each (less its checks: these are known strings). */
export function setHeaders(res: ServerResponse, headers: HeaderList): void {
  for (let i = 0; i < headers.length; i++) res.setHeader(headers[i]![0], headers[i]![1]);
}

/**
 * Lets this one page show images from `origin` as well (the consent page's application logo),
 * leaving every other page's policy as strict as before. `origin` is a URL's `origin`
 * (`https://host[:port]`), so it cannot smuggle another directive in.
 */
export function allowImagesFrom(ctx: AppContext, origin: string): void {
  if (!/^https?:\/\/[^\s;,']+$/.test(origin)) return;
  const policy = ctx.response.get('Content-Security-Policy');
  if (policy) ctx.set('Content-Security-Policy', policy.replace(PAGE_IMG_SRC, `${PAGE_IMG_SRC} ${origin}`));
}

/**
 * Headers on every response; each audience mounts its own. Pages (`pages: true`) may run only our
 * own scripts and styles (plus inline ones that carry this response's nonce) and may not be framed
 * (clickjacking on the consent page). `form-action` is left out on purpose: Chromium applies it to
 * the redirect that follows a form post, and the consent form must end at the application's
 * redirect URI. Answers that are never HTML (JSON APIs, discovery, the token endpoints, probes)
 * get a policy that allows nothing, with no per-request nonce to make.
 */
export function securityHeaders(opts: { hsts: boolean; pages: boolean }): Middleware<AppState> {
  const common = commonHeaders(opts.hsts);
  const pageCsp = (nonce: string) =>
    `default-src 'self'; script-src 'self' 'nonce-${nonce}'; style-src 'self' 'nonce-${nonce}'; ` +
    `${PAGE_IMG_SRC}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`;
  if (!opts.pages) {
    const headers = apiSecurityHeaders(opts.hsts);
    return (ctx, next) => {
      setHeaders(ctx.res, headers);
      return next();
    };
  }
  const nonce = nonceSource();
  return async (ctx, next) => {
    const res = ctx.res;
    setHeaders(res, common);
    const n = nonce();
    ctx.state.cspNonce = n;
    res.setHeader('Content-Security-Policy', pageCsp(n));
    await next();
  };
}
