import Router from '@koa/router';
import { actorOf } from '../../auth/actor.ts';
import { requireScopes } from '../../auth/authenticate.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { ProjectsService } from './projects.service.ts';

const actor = (ctx: AppContext) => actorOf(ctx.state.credential!);

export function projectsRoutes(projects: ProjectsService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/projects' });
  router.get('/', requireScopes('read:projects'), async (ctx) => {
    ctx.body = await projects.list(actor(ctx), ctx.query);
  });
  router.post('/', requireScopes('write:projects'), async (ctx) => {
    ctx.status = 201;
    ctx.body = await projects.create(actor(ctx), ctx.request.body);
  });
  router.get('/:id', requireScopes('read:projects'), async (ctx) => {
    ctx.body = await projects.get(actor(ctx), ctx.params['id']!);
  });
  router.patch('/:id', requireScopes('write:projects'), async (ctx) => {
    ctx.body = await projects.update(actor(ctx), ctx.params['id']!, ctx.request.body);
  });
  router.delete('/:id', requireScopes('write:projects'), async (ctx) => {
    await projects.remove(actor(ctx), ctx.params['id']!);
    ctx.status = 204;
  });
  return router;
}
