import Router from '@koa/router';
import { actorOf, requireUser } from '../../auth/actor.ts';
import { requireSessionOrAdmin } from '../../auth/authenticate.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { ConsentsService } from './consents.service.ts';

const owner = (ctx: AppContext) => requireUser(actorOf(ctx.state.credential!));

/** /v2/consents: the applications a user authorized; revoking one revokes its tokens. */
export function consentsRoutes(consents: ConsentsService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/consents' });
  router.use(requireSessionOrAdmin());
  router.get('/', async (ctx) => {
    ctx.body = { data: await consents.list(owner(ctx)) };
  });
  router.delete('/:clientId', async (ctx) => {
    await consents.revoke(owner(ctx), ctx.params['clientId']!);
    ctx.status = 204;
  });
  return router;
}
