import Router from '@koa/router';
import type { Middleware } from 'koa';
import { actorOf, requireUser } from '../../auth/actor.ts';
import { authenticate, requireCredential, requireScopes, type Authenticator } from '../../auth/authenticate.ts';
import { rateLimitRequests, type Policies, type RateLimiter } from '../rate-limit/rate-limiter.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { AppManager, ApplicationsService } from './applications.service.ts';

export interface ApplicationRoutesDeps {
  applications: ApplicationsService;
  authenticator: Authenticator;
  /** The server's own origin: cookie-authenticated writes must come from it. */
  origin: string;
  jsonBody: Middleware<AppState>;
  limiter: RateLimiter;
  /** Registration has its own (lower) limit per account; unauthenticated callers per address. */
  policies: Policies;
}

/** The account acting: a dashboard session, or a bearer credential's account (admin via admin:all). */
function manager(ctx: AppContext): AppManager {
  const actor = actorOf(ctx.state.credential!);
  return { id: requireUser(actor), isAdmin: actor.admin };
}

/**
 * POST/GET/PATCH/DELETE /oauth/applications and secret rotation: the seed's "Register Your
 * Application". Authenticated like /v2: a dashboard session, or a bearer credential carrying
 * write:applications (read:applications to read).
 */
export function applicationsRouter(deps: ApplicationRoutesDeps): Router<AppState> {
  const { applications } = deps;
  const router = new Router<AppState>({ prefix: '/oauth/applications' });
  router.use(deps.jsonBody, authenticate(deps.authenticator, { allowSession: true, origin: deps.origin }));
  router.use(rateLimitRequests(deps.limiter, deps.policies, 'apps'), requireCredential());
  const read = requireScopes('read:applications');
  const write = requireScopes('write:applications');

  router.post('/', write, async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await applications.register(manager(ctx), ctx.request.body);
  });

  router.get('/', read, async (ctx) => {
    ctx.body = { data: await applications.list(manager(ctx)) };
  });

  router.get('/:clientId', read, async (ctx) => {
    ctx.body = await applications.get(manager(ctx), ctx.params['clientId']!);
  });

  router.patch('/:clientId', write, async (ctx) => {
    ctx.body = await applications.update(manager(ctx), ctx.params['clientId']!, ctx.request.body);
  });

  router.delete('/:clientId', write, async (ctx) => {
    await applications.remove(manager(ctx), ctx.params['clientId']!);
    ctx.status = 204;
  });

  router.post('/:clientId/secret', write, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await applications.rotateSecret(manager(ctx), ctx.params['clientId']!);
  });

  return router;
}
