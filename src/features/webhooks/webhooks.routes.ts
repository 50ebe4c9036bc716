import Router from '@koa/router';
import { actorOf, requireUser } from '../../auth/actor.ts';
import { requireSessionOrAdmin } from '../../auth/authenticate.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { WebhooksService } from './webhooks.service.ts';

const owner = (ctx: AppContext) => requireUser(actorOf(ctx.state.credential!));

/** /v2/webhooks. Like API keys, managed from a dashboard session or with admin:all. */
export function webhooksRoutes(webhooks: WebhooksService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/webhooks' });
  router.use(requireSessionOrAdmin());
  router.post('/', async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await webhooks.create(owner(ctx), ctx.request.body);
  });
  router.get('/', async (ctx) => {
    ctx.body = { data: await webhooks.list(owner(ctx)) };
  });
  router.get('/:id', async (ctx) => {
    ctx.body = await webhooks.get(owner(ctx), ctx.params['id']!);
  });
  router.patch('/:id', async (ctx) => {
    ctx.body = await webhooks.update(owner(ctx), ctx.params['id']!, ctx.request.body);
  });
  router.delete('/:id', async (ctx) => {
    await webhooks.remove(owner(ctx), ctx.params['id']!);
    ctx.status = 204;
  });
  router.post('/:id/secret', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await webhooks.rotateSecret(owner(ctx), ctx.params['id']!);
  });
  router.get('/:id/deliveries', async (ctx) => {
    ctx.body = { data: await webhooks.deliveries(owner(ctx), ctx.params['id']!, ctx.query['limit']) };
  });
  router.post('/:id/deliveries/:deliveryId/redeliver', async (ctx) => {
    await webhooks.redeliver(owner(ctx), ctx.params['id']!, ctx.params['deliveryId']!);
    ctx.status = 202;
    ctx.body = { queued: true };
  });
  return router;
}
