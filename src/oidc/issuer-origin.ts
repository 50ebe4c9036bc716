import type { Middleware } from 'koa';

/** Where a pinned request keeps its path and query as Koa parsed them on the way in. */
const TARGET = Symbol('issuer-origin target');

/**
 * oidc-provider builds every URL it hands out (discovery metadata, the interaction's return
 * address) from the request's origin: Host, X-Forwarded-Host behind a proxy, or an absolute-form
 * request target, all of them the client's to write. This pins the request's origin, host and
 * href to ISSUER's, so those URLs are always ours whatever the request claims.
 *
 * The pinned values live on a prototype made once per Koa request prototype and put under the
 * request: defining four properties on each request object cost ~8 µs (and left it a slow
 * dictionary object); swapping its prototype costs ~1 µs.
 */
export function issuerOrigin(issuer: string): Middleware {
  const { origin, host, hostname } = new URL(issuer);
  const pinnedOf = new WeakMap<object, object>();
  const pinned = (koaRequest: object): object => {
    let made = pinnedOf.get(koaRequest);
    if (!made) {
      made = Object.create(koaRequest, {
        origin: { value: origin },
        host: { value: host },
        hostname: { value: hostname },
        href: {
          get(this: { [TARGET]: string }) {
            return `${origin}${this[TARGET]}`;
          },
        },
      }) as object;
      pinnedOf.set(koaRequest, made);
    }
    return made;
  };
  // Nothing to do once the request is answered: the step hands on without an async frame of its own.
  return (ctx, next) => {
    const request = ctx.request as unknown as { [TARGET]: string };
    // Path and query as Koa parsed them: an absolute-form target (GET http://evil.example/...)
    // keeps only its path and query.
    request[TARGET] = `${ctx.path}${ctx.querystring ? `?${ctx.querystring}` : ''}`;
    Object.setPrototypeOf(request, pinned(Object.getPrototypeOf(request)));
    return next();
  };
}
