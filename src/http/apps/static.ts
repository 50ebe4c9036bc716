import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { AppState } from '../context.ts';
import { errorHandler, pageErrors } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import type { Renderer } from '../render.ts';
import { browserSession } from '../session.ts';
import { serveStatic } from '../static.ts';

/**
 * `/static`: the pages' CSS, script and icons, from memory. A file that is not there is a "page
 * not found" page (the signed-in browser's, so its session is read only then).
 */
export function staticApp(deps: { render: Renderer; accounts: AccountsService; hsts: boolean }): Middleware<AppState> {
  return compose([
    errorHandler(pageErrors(deps.render)),
    securityHeaders({ hsts: deps.hsts, pages: true }),
    serveStatic('/static'),
    browserSession(deps.accounts),
  ]);
}
