import compose from 'koa-compose';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { bodyParser } from '@koa/bodyparser';
import type { AppContext, AppState } from '../context.ts';
import { errorHandler, pageErrors } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import type { Renderer } from '../render.ts';
import { browserSession } from '../session.ts';
import { csrf } from '../csrf.ts';
import type { Config } from '../../config.ts';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import { requireFreshAuth } from '../../features/accounts/fresh-auth.ts';
import { consoleAccess } from '../../features/admin/console-access.ts';
import { overviewPagesRouter } from '../../features/admin/overview.pages.ts';
import type { AuditRepo } from '../../features/audit/audit.repo.ts';
import { auditPagesRouter } from '../../features/admin/audit.pages.ts';
import type { AuditTrailService } from '../../features/audit-trail/audit-trail.service.ts';
import { usersPagesRouter } from '../../features/admin/users.pages.ts';
import type { UserAdminService } from '../../features/admin/user-admin.service.ts';
import { resourcePagesRouter, type ResourcePagesDeps } from '../../features/admin/resources.pages.ts';

export interface AdminAppDeps {
  config: Config;
  render: Renderer;
  accounts: AccountsService;
  auditLog: AuditRepo;
  auditTrail: AuditTrailService;
  userAdmin: UserAdminService;
  now(): number;
  /** Applications, API keys, webhooks, signing keys and settings pages. */
  applicationSuspension: ResourcePagesDeps['applicationSuspension'];
  apiKeysAdmin: ResourcePagesDeps['apiKeysAdmin'];
  apiKeys: ResourcePagesDeps['apiKeys'];
  webhookHealth: ResourcePagesDeps['webhookHealth'];
  signingKeys: ResourcePagesDeps['signingKeys'];
}

/**
 * `/admin`: the operators' console. Pages like the dashboard's (same layout, components, CSRF on
 * every form), for admins and auditors only; every change needs an admin who signed in recently.
 */
export function adminApp(deps: AdminAppDeps): { app: Middleware<AppState>; routers: Router<AppState>[] } {
  const { config, render, now } = deps;
  const csrfCheck = csrf({ secure: config.secureCookies });
  /** Each form post: its body parsed, then its CSRF token checked. */
  const formGuard: Middleware<AppState>[] = [bodyParser({ enableTypes: ['form'], formLimit: '16kb' }), csrfCheck];
  // A change re-asks for the password when the sign-in is older than FRESH_AUTH_MAX_AGE.
  const fresh = requireFreshAuth({ maxAgeMs: config.FRESH_AUTH_MAX_AGE * 1000, now, formPage: '/admin' });

  const guardForm = compose(formGuard);
  // What every console router is built with: its forms guarded, pages rendered, the clock.
  const kit = { render, formGuard, now };
  const routers: Router<AppState>[] = [
    overviewPagesRouter({ ...kit, auditLog: deps.auditLog }),
    auditPagesRouter({ ...kit, auditTrail: deps.auditTrail }),
    usersPagesRouter({ ...kit, userAdmin: deps.userAdmin, auditLog: deps.auditLog }),
    resourcePagesRouter({ ...deps, ...kit }),
  ];

  const app = compose<AppContext>([
    errorHandler(pageErrors(render)),
    securityHeaders({ hsts: config.secureCookies, pages: true }),
    browserSession(deps.accounts),
    // The CSRF check comes before the gate: a forged post is refused as forged (403) whoever the
    // browser is, and only then does the console decide whether it exists for this account.
    async (ctx, next) => (ctx.method === 'GET' ? csrfCheck(ctx, next) : guardForm(ctx, next)),
    consoleAccess(fresh),
    ...routers.flatMap((r) => [r.routes(), r.allowedMethods()] as Middleware<AppState>[]),
  ] as Middleware<AppState>[]) as Middleware<AppState>;
  return { app, routers };
}
