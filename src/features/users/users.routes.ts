import Router from '@koa/router';
import { actorOf } from '../../auth/actor.ts';
import { requireScopes } from '../../auth/authenticate.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { UsersService } from './users.service.ts';

const actor = (ctx: AppContext) => actorOf(ctx.state.credential!);

export function usersRoutes(users: UsersService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/users' });
  router.get('/', requireScopes('read:users'), async (ctx) => {
    ctx.body = await users.list(actor(ctx), ctx.query);
  });
  // Creating accounts for others is administration.
  router.post('/', requireScopes('admin:all'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await users.create(ctx.request.body);
  });
  router.get('/:id', requireScopes('read:users'), async (ctx) => {
    ctx.body = await users.get(actor(ctx), ctx.params['id']!);
  });
  router.patch('/:id', requireScopes('write:users'), async (ctx) => {
    ctx.body = await users.update(actor(ctx), ctx.params['id']!, ctx.request.body);
  });
  router.delete('/:id', requireScopes('delete:users'), async (ctx) => {
    await users.remove(actor(ctx), ctx.params['id']!);
    ctx.status = 204;
  });
  return router;
}
