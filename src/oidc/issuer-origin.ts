import type { Middleware } from 'koa';

/**
 * oidc-provider builds every URL it hands out (discovery metadata, the interaction's return
 * address) from the request's origin: Host, X-Forwarded-Host behind a proxy, or an absolute-form
 * request target, all of them the client's to write. This pins the request's origin, host and
 * href to ISSUER's, so those URLs are always ours whatever the request claims.
 */
export function issuerOrigin(issuer: string): Middleware {
  const { origin, host, hostname } = new URL(issuer);
  return async (ctx, next) => {
    // Path and query as Koa parsed them: an absolute-form target (GET http://evil.example/...)
    // keeps only its path and query.
    const pathAndQuery = `${ctx.path}${ctx.querystring ? `?${ctx.querystring}` : ''}`;
    Object.defineProperties(ctx.request, {
      origin: { value: origin },
      host: { value: host },
      hostname: { value: hostname },
      href: { value: `${origin}${pathAndQuery}` },
    });
    await next();
  };
}
