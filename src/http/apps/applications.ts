import compose from 'koa-compose';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { AppState } from '../context.ts';
import { apiErrors, errorHandler } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import { browserSession } from '../session.ts';

/**
 * `/oauth/applications`: application registration, a JSON API like /v2 (its router parses JSON
 * bodies, authenticates and rate limits), in the JSON error model.
 */
export function applicationsApp(deps: {
  router: Router<AppState>;
  accounts: AccountsService;
  hsts: boolean;
}): Middleware<AppState> {
  return compose([
    errorHandler(apiErrors),
    securityHeaders({ hsts: deps.hsts, pages: false }),
    browserSession(deps.accounts),
    deps.router.routes() as Middleware<AppState>,
    deps.router.allowedMethods() as Middleware<AppState>,
  ]);
}
