import Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError, unauthorized } from '../../http/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Account } from '../accounts/accounts.service.ts';
import type { ApplicationsService } from './applications.service.ts';

export interface ApplicationRoutesDeps {
  applications: ApplicationsService;
  /** The server's own origin: cookie-authenticated writes must come from it. */
  origin: string;
  jsonBody: Middleware<AppState>;
}

/**
 * Who is calling. For now a dashboard session; bearer credentials with `write:applications`
 * arrive with the /v2 credentials. A cookie-authenticated write must be JSON (a cross-site form
 * cannot send that without a CORS preflight, which is never granted) and, when the browser says
 * where it comes from, come from our own origin.
 */
function requireAccount(origin: string): Middleware<AppState> {
  return async (ctx, next) => {
    if (!ctx.state.account) throw unauthorized();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      const from = ctx.get('Origin');
      if (from && from !== origin) throw new AppError('FORBIDDEN', 'Cross-origin request refused');
      if (ctx.method !== 'DELETE' && ctx.request.length && !ctx.is('application/json')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send a JSON body (Content-Type: application/json)');
      }
    }
    await next();
  };
}

const actor = (ctx: AppContext): Account => ctx.state.account!;

/** POST/GET/PATCH/DELETE /oauth/applications and secret rotation: the seed's "Register Your Application". */
export function applicationsRouter(deps: ApplicationRoutesDeps): Router<AppState> {
  const { applications } = deps;
  const router = new Router<AppState>({ prefix: '/oauth/applications' });
  const guard = [requireAccount(deps.origin), deps.jsonBody];

  router.post('/', ...guard, async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await applications.register(actor(ctx), ctx.request.body);
  });

  router.get('/', ...guard, async (ctx) => {
    ctx.body = { data: await applications.list(actor(ctx)) };
  });

  router.get('/:clientId', ...guard, async (ctx) => {
    ctx.body = await applications.get(actor(ctx), ctx.params['clientId']!);
  });

  router.patch('/:clientId', ...guard, async (ctx) => {
    ctx.body = await applications.update(actor(ctx), ctx.params['clientId']!, ctx.request.body);
  });

  router.delete('/:clientId', ...guard, async (ctx) => {
    await applications.remove(actor(ctx), ctx.params['clientId']!);
    ctx.status = 204;
  });

  router.post('/:clientId/secret', ...guard, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await applications.rotateSecret(actor(ctx), ctx.params['clientId']!);
  });

  return router;
}
