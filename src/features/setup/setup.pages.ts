import Router from '@koa/router';
import type { Middleware } from 'koa';
import { Conflict, Forbidden } from '../../domain/errors.ts';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { SetupService } from './setup.service.ts';
import { provenanceOf } from '../../http/request-facts.ts';

export interface SetupPagesDeps {
  setup: Pick<SetupService, 'checkLink' | 'createOwner'>;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  /** Signs the browser in to the dashboard as the new owner (`amr`: how, RFC 8176). */
  startDashboardSession(ctx: AppContext, userId: string, amr: string[]): Promise<void>;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * `/setup?token=...`: the first-run page that creates the owner account, reached only through the
 * link the server printed at start. A refused link gets a page saying so, never the form.
 */
export function setupPagesRouter(deps: SetupPagesDeps): Router<AppState> {
  const { setup, render } = deps;
  const router = new Router<AppState>();

  /** A refusal of the link itself (not of a field): a page, 404 once set up, 403 for a bad link. */
  const refusedPage = (ctx: AppContext, err: unknown): boolean => {
    if (err instanceof Conflict && !err.field) {
      render.error(ctx, 404, 'Nothing to set up', err.message);
      return true;
    }
    if (err instanceof Forbidden) {
      render.error(ctx, 403, 'This setup link is not valid', err.message);
      return true;
    }
    return false;
  };
  const form = (
    ctx: AppContext,
    data: { token: string; email?: string; name?: string; error?: string },
    status = 200,
  ) => render.page(ctx, 'setup', { email: '', name: '', error: null, ...data }, status);

  router.get('/setup', async (ctx) => {
    const token = str(ctx.query['token']);
    try {
      await setup.checkLink(token);
    } catch (err) {
      if (refusedPage(ctx, err)) return;
      throw err;
    }
    return form(ctx, { token });
  });

  router.post('/setup', ...deps.formGuard, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const token = str(body['token']);
    const typed = { token, email: str(body['email']).slice(0, 254), name: str(body['name']).slice(0, 100) };
    let owner: { id: string };
    try {
      owner = await setup.createOwner(token, { ...typed, password: str(body['password']) }, provenanceOf(ctx));
    } catch (err) {
      if (refusedPage(ctx, err)) return;
      const refusal = toAppError(err);
      if (!refusal || refusal.status >= 500) throw err;
      return form(ctx, { ...typed, error: refusal.message }, 400);
    }
    // The owner typed the password a moment ago: signed in with it.
    await deps.startDashboardSession(ctx, owner.id, ['pwd']);
    ctx.status = 303;
    ctx.redirect('/dashboard');
  });

  return router;
}
