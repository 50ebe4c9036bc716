import Router from '@koa/router';
import { z } from 'zod';
import { heldScopes, requireSessionOrAdmin } from '../../auth/authenticate.ts';
import { requireUser, actorOf } from '../../auth/actor.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import { parseInput } from '../../http/validation.ts';
import type { ApiKeysService } from './api-keys.service.ts';

const activityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.iso.datetime({ offset: true }).optional(),
});

/** The account whose keys these are (the session's, or the admin:all credential's own). */
const owner = (ctx: AppContext) => requireUser(actorOf(ctx.state.credential!));

/**
 * /v2/api-keys: create (the key is in this response only), list, get, revoke, rotate, activity.
 * Managing keys needs a dashboard session or admin:all: a key must not be able to mint keys.
 */
export function apiKeysRoutes(apiKeys: ApiKeysService): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api-keys' });
  router.use(requireSessionOrAdmin());

  router.post('/', async (ctx) => {
    const c = ctx.state.credential!;
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    // A session holds its account's scopes; another credential holds what it carries.
    const held = c.method === 'session' && ctx.state.account ? heldScopes(ctx.state.account) : c.scopes;
    ctx.body = await apiKeys.create({ userId: owner(ctx), heldScopes: held }, ctx.request.body);
  });
  router.get('/', async (ctx) => {
    ctx.body = { data: await apiKeys.list(owner(ctx)) };
  });
  router.get('/:id', async (ctx) => {
    ctx.body = await apiKeys.get(owner(ctx), ctx.params['id']!);
  });
  router.delete('/:id', async (ctx) => {
    ctx.body = await apiKeys.revoke(owner(ctx), ctx.params['id']!);
  });
  router.post('/:id/revoke', async (ctx) => {
    ctx.body = await apiKeys.revoke(owner(ctx), ctx.params['id']!);
  });
  router.post('/:id/rotate', async (ctx) => {
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await apiKeys.rotate(owner(ctx), ctx.params['id']!);
  });
  router.get('/:id/activity', async (ctx) => {
    const q = parseInput(activityQuery, ctx.query);
    const rows = await apiKeys.activity(owner(ctx), ctx.params['id']!, { limit: q.limit, ...(q.before ? { before: Date.parse(q.before) } : {}) });
    ctx.body = {
      data: rows.map((r) => ({
        at: new Date(r.at).toISOString(),
        ip: r.ip,
        method: r.method,
        path: r.path,
        status: r.status,
        request_id: r.request_id,
        client_version: r.client_version,
      })),
    };
  });
  return router;
}
