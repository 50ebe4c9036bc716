import type Router from '@koa/router';
import type { Layer } from '@koa/router';
import compose from 'koa-compose';
import type { Middleware, Next } from 'koa';
import type { AppState } from './context.ts';
import type { Step } from './step.ts';

/** A path with none of path-to-regexp's syntax (`:id`, `*rest`, `{optional}`, groups): one string. */
const STATIC_PATH = /^[^:*?{}()\\]+$/;

interface StaticRoute {
  /** What the router would run for this method and path: every matching layer's middleware, in order. */
  chain: Middleware<AppState>;
  /** The layers matching the path, as the router leaves them on `ctx.matched` (the metrics label). */
  matched: Layer<AppState>[];
  /** The route's template, as the router leaves it on `ctx._matchedRoute`. */
  template: string;
}

/**
 * The layers' middleware run in turn, as koa-compose runs them, except that what each returns is
 * handed back as it is: a chain whose steps all finish at once returns nothing, where koa-compose
 * makes a resolved promise per step. So a step's `next()` may return nothing: the steps of a
 * router served through the table take it as `await` does (`waits`, step.ts).
 */
function inTurn(steps: Middleware<AppState>[]): Middleware<AppState> {
  return (ctx, next) => {
    let last = -1;
    const run = (i: number): Step => {
      if (i <= last) throw new Error('next() called multiple times');
      last = i;
      // Koa's type of `next` says a promise: these steps take nothing too (see above).
      return i === steps.length ? next() : steps[i]!(ctx, (() => run(i + 1)) as Next);
    };
    return run(0);
  };
}

/**
 * A router's routes and its allowedMethods(), with the routes of a fixed path (`/v2/auth/test`)
 * looked up in a table made once. The router matches each request against every layer's regular
 * expression and composes the matching layers' middleware anew; for a path without parameters
 * that answer is the same every time, so it is computed from the router itself (`match`) when
 * the app is built. Anything not in the table as written (another case, a trailing slash, a path
 * with parameters, a method no route has) goes to the router. The router's allowedMethods() acts
 * only on an unanswered request (404), and a route's handler always answers or throws, so a
 * request the table serves has nothing for it to do.
 */
export function routesOf(router: Router<AppState>): Middleware<AppState> {
  const viaRouter = compose([router.routes(), router.allowedMethods()] as Middleware<AppState>[]);
  const opts = router.opts as { exclusive?: boolean; host?: unknown; routerPath?: unknown };
  if (opts.exclusive || opts.host || opts.routerPath) return viaRouter;
  const table = new Map<string, Map<string, StaticRoute>>();
  for (const layer of router.stack) {
    const path = layer.path;
    if (layer.methods.length === 0 || typeof path !== 'string' || !STATIC_PATH.test(path)) continue;
    for (const method of layer.methods) {
      const byPath = table.get(method) ?? new Map<string, StaticRoute>();
      table.set(method, byPath);
      if (byPath.has(path)) continue;
      const found = router.match(path, method);
      const route = found.pathAndMethod.filter((l) => l.methods.length > 0).at(-1);
      if (!found.route || !route) continue;
      const chain = inTurn(found.pathAndMethod.flatMap((l) => l.stack) as Middleware<AppState>[]);
      byPath.set(path, { chain, matched: found.path, template: route.path as string });
    }
  }
  return (ctx, next) => {
    const route = table.get(ctx.method)?.get(ctx.path);
    if (!route) return viaRouter(ctx, next);
    const routed = ctx as typeof ctx & {
      router: Router<AppState>;
      routeMatched: boolean;
      matched: Layer<AppState>[];
      _matchedRoute: string;
      routerPath: string;
      captures: string[];
    };
    routed.router = router;
    routed.routeMatched = true;
    routed.matched = route.matched.slice();
    routed.captures = [];
    routed._matchedRoute = route.template;
    routed.routerPath = route.template;
    ctx.params = {};
    (ctx.request as typeof ctx.request & { params: Record<string, string> }).params = ctx.params;
    return route.chain(ctx, next);
  };
}
