import Router from '@koa/router';
import type { AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AuditRepo } from '../audit/audit.repo.ts';

/** The console's sections, each with what an operator does there (the overview lists them). */
const SECTIONS = [
  {
    href: '/admin/users',
    title: 'Users',
    text: 'Find an account; disable it, reset its second factor, change its role.',
  },
  { href: '/admin/applications', title: 'Applications', text: 'Every OAuth application and its owner; suspend one.' },
  { href: '/admin/api-keys', title: 'API keys', text: 'Every live API key; revoke one.' },
  { href: '/admin/webhooks', title: 'Webhooks', text: 'Every endpoint and how its deliveries are going.' },
  { href: '/admin/signing-keys', title: 'Signing keys', text: 'Which key signs tokens; rotate them.' },
  { href: '/admin/settings', title: 'Settings', text: 'The configuration in effect, secrets masked.' },
  { href: '/admin/audit', title: 'Audit log', text: 'Who did what, when and from where; filter and export.' },
];

/** `/admin`: where the console starts, with the latest events of the audit trail. */
export function overviewPagesRouter(deps: { render: Renderer; auditLog: Pick<AuditRepo, 'list'> }): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/admin', async (ctx) => {
    const latest = await deps.auditLog.list({}, { limit: 10 });
    deps.render.page(ctx, 'admin/overview', { title: 'Admin console', adminSection: 'overview', SECTIONS, latest });
  });
  return router;
}
