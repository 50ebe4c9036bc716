import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { AppState } from './context.ts';

/**
 * Headers on every response. Pages may run only our own scripts and styles (plus inline ones that
 * carry this response's nonce) and may not be framed (clickjacking on the consent page).
 * `form-action` is left out on purpose: Chromium applies it to the redirect that follows a form
 * post, and the consent form must end at the application's redirect URI.
 */
export function securityHeaders(opts: { hsts: boolean }): Middleware<AppState> {
  return async (ctx, next) => {
    const nonce = crypto.randomBytes(16).toString('base64');
    ctx.state.cspNonce = nonce;
    ctx.set({
      'Content-Security-Policy': [
        "default-src 'self'",
        `script-src 'self' 'nonce-${nonce}'`,
        `style-src 'self' 'nonce-${nonce}'`,
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
      ...(opts.hsts ? { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' } : {}),
    });
    await next();
  };
}
