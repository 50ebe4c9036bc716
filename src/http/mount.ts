import type { Middleware } from 'koa';
import type { AppState } from './context.ts';

export interface Mount {
  /** A path (`/v2`) that takes its subtree, or with `exact`, that path alone (`/healthz`). */
  path: string;
  exact?: boolean;
  app: Middleware<AppState>;
}

const UPPER = /[A-Z]/;
/**
 * ASCII letters folded to lower case, as the routers (ours and oidc-provider's) match paths. Almost
 * every path is lower case already: testing first costs a fifth of a replace that finds nothing.
 */
const fold = (path: string) => (UPPER.test(path) ? path.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : path);

/**
 * Sends each request to the app of its audience: the mount with the longest path that is the
 * request's path or (unless `exact`) a leading segment of it, else `rest`. The one place that
 * looks at the path to choose; the apps never ask where they are. Unlike koa-mount, the path is
 * left whole, so routers keep their full templates (metrics labels, the OpenAPI document). A
 * trailing slash matches as oidc-provider's router matches it (`/oauth/token/` is the token
 * endpoint).
 */
export function byPath(mounts: Mount[], rest: Middleware<AppState>): Middleware<AppState> {
  const exact = new Map<string, Middleware<AppState>>();
  const subtrees = mounts.filter((m) => !m.exact).sort((a, b) => b.path.length - a.path.length);
  for (const m of mounts) if (m.exact) exact.set(fold(m.path), m.app);
  return (ctx, next) => {
    let path = fold(ctx.path);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const app = exact.get(path) ?? subtrees.find((m) => path === m.path || path.startsWith(`${m.path}/`))?.app;
    return (app ?? rest)(ctx, next);
  };
}
