import compose from 'koa-compose';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { AppState } from '../context.ts';
import { apiErrors, errorHandler } from '../error-handler.ts';
import { byPath } from '../mount.ts';
import { securityHeaders } from '../security-headers.ts';
import { browserSession } from '../session.ts';
import { apiCors, withoutForeignSession } from '../api-cors.ts';
import { apiVersion } from '../../api/v2/router.ts';
import { serveOpenApi } from '../../api/openapi.ts';
import { resourceMetadataOnChallenges } from '../protected-resource.ts';

const routesOf = (router: Router<AppState>) => [router.routes(), router.allowedMethods()] as Middleware<AppState>[];

/**
 * `/v2`: the JSON API. Every answer carries `X-API-Version` and errors in the JSON error model;
 * the router parses JSON bodies, authenticates (a bearer credential or the dashboard session) and
 * rate limits. `/v2/openapi.json` describes it, to anyone. Pages of the applications' origins may
 * call it with their bearer tokens (CORS); the dashboard session serves our own origin alone.
 */
export function v2App(deps: {
  router: Router<AppState>;
  openApi: Record<string, unknown>;
  accounts: AccountsService;
  hsts: boolean;
  /** The API's protected resource metadata (RFC 9728), named in every 401's challenge. */
  resourceMetadataUrl: string;
  /** The server's own origin: the only one whose requests the dashboard session authenticates. */
  origin: string;
  /** Whether a page of this origin may call the API (an application's; see ApplicationsService). */
  corsOriginAllowed(origin: string): Promise<boolean>;
}): Middleware<AppState> {
  const routes = compose(routesOf(deps.router)) as Middleware<AppState>;
  return compose([
    resourceMetadataOnChallenges(deps.resourceMetadataUrl),
    errorHandler(apiErrors),
    securityHeaders({ hsts: deps.hsts, pages: false }),
    apiCors({ allowed: deps.corsOriginAllowed, methods: ['GET', 'POST', 'PATCH', 'DELETE'] }),
    apiVersion(),
    withoutForeignSession(deps.origin, browserSession(deps.accounts)),
    byPath([{ path: '/v2/openapi.json', exact: true, app: serveOpenApi(deps.openApi) }], routes),
  ]);
}
