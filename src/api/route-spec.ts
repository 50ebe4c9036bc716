import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { requireScopes, requireSessionOrAdmin } from '../auth/authenticate.ts';
import { AppError } from '../http/errors.ts';
import type { AppContext, AppState } from '../http/context.ts';

/** Who may call a route: scopes on any credential, or a dashboard session / admin:all. */
export type RouteAuth = { scopes: string[] } | { sessionOrAdmin: true };

/**
 * One API route, declared once: the router is built from it and so is the OpenAPI document, so the
 * two cannot disagree. `body` and `query` are the zod schemas the service validates with;
 * `response` is the schema of what the handler returns.
 */
export interface RouteSpec {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Koa-style path relative to the router prefix, e.g. `/projects/:id`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  body?: z.ZodType;
  query?: z.ZodObject;
  status: number;
  response?: z.ZodType;
  /** The answer carries a secret shown once (a key, a client or signing secret): never cached. */
  secret?: boolean;
  handler(ctx: AppContext): Promise<unknown> | unknown;
}

export const defineRoute = (spec: RouteSpec): RouteSpec => spec;

/** Options for building routers from specs. */
export interface BuildOptions {
  /** Check every response against its declared schema (tests turn this on). */
  validateResponses?: boolean;
}

function authMiddleware(auth: RouteAuth): Middleware<AppState> {
  return 'scopes' in auth ? requireScopes(...auth.scopes) : requireSessionOrAdmin();
}

const hasBody = (ctx: AppContext) => Boolean(ctx.request.length) || ctx.get('Transfer-Encoding') !== '';

/** Registers every spec on a router (after whatever middleware the caller put in front). */
export function mountRoutes(router: Router<AppState>, specs: RouteSpec[], opts: BuildOptions = {}): Router<AppState> {
  for (const spec of specs) {
    router[spec.method](spec.path, authMiddleware(spec.auth), async (ctx) => {
      // A route that reads a JSON body refuses any other kind of body rather than reading it as {}
      // (which a PATCH would accept as "change nothing", telling the client it worked).
      if (spec.body && hasBody(ctx) && !ctx.is('json', '+json')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send a JSON body (Content-Type: application/json)');
      }
      const body = await spec.handler(ctx);
      ctx.status = spec.status;
      if (spec.secret) ctx.set('Cache-Control', 'no-store');
      if (spec.status === 204) return;
      if (opts.validateResponses && spec.response) {
        const checked = spec.response.safeParse(body);
        if (!checked.success) {
          throw new AppError(
            'INTERNAL',
            `response of ${spec.operationId} does not match its schema: ${checked.error.issues[0]?.path.join('.')} ${checked.error.issues[0]?.message}`,
          );
        }
      }
      ctx.body = body;
    });
  }
  return router;
}

/** `{"data": [...]}`: how every list is answered. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item) });

/** The error model, for the document. */
export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).loose(),
});
