import Router from '@koa/router';
import type { AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { SWAGGER_UI_ASSETS } from '../../http/static.ts';

/**
 * `/docs`: the API reference in the browser. Swagger UI, served from our own /static (no CDN: the
 * pages' CSP allows only this origin's scripts, and air-gapped installs have no CDN), renders the
 * OpenAPI document the API itself serves, so the reference is always the running version's.
 */
export function docsPagesRouter(deps: { render: Renderer }): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/docs', (ctx) =>
    deps.render.page(ctx, 'docs', { wide: true, section: 'docs', assets: SWAGGER_UI_ASSETS, spec: '/v2/openapi.json' }),
  );
  return router;
}
