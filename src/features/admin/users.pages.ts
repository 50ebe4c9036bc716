import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { sessionPrincipal, type Principal } from '../../domain/principal.ts';
import { sha256 } from '../../shared/secrets.ts';
import { adminUserSearchSchema } from '../../wire/admin-users.ts';
import { parseWire } from '../../wire/parse.ts';
import { attempt, formBody, seeOther, templateHelpers } from '../dashboard/shared.ts';
import type { AuditRepo } from '../audit/audit.repo.ts';
import type { AdminReader, UserAdminService } from './user-admin.service.ts';
import { provenanceOf } from '../../http/request-facts.ts';
import type { Provenance } from '../../domain/audit.ts';

/** What a finished action says on the account's page (`?done=`). */
const DONE: Record<string, string> = {
  disabled: 'The account is disabled: its sessions ended and its credentials are refused.',
  enabled: 'The account is enabled again.',
  'two-factor-reset': 'Two-factor authentication is off; the owner was told by email.',
  'reset-sent': 'A password-reset link is on its way to the account’s address.',
  roles: 'The roles are saved.',
};

const PAGE_SIZE = 25;

/**
 * `/admin/users`: find accounts by email, and one account's page with its standing, what it holds,
 * its latest audit events and the admin's actions. Auditors see the same pages without the forms
 * (and the console's gate refuses their posts whatever they send).
 */
export function usersPagesRouter(deps: {
  render: Renderer;
  formGuard: Middleware<AppState>[];
  now(): number;
  userAdmin: UserAdminService;
  auditLog: Pick<AuditRepo, 'list'>;
}): Router<AppState> {
  const { render, userAdmin } = deps;
  const router = new Router<AppState>();

  const me = (ctx: AppContext): Principal =>
    sessionPrincipal(ctx.state.account!, ctx.state.sessionId ? sha256(ctx.state.sessionId) : '');
  const page = (ctx: AppContext, template: string, data: Record<string, unknown>, status = 200) =>
    render.page(
      ctx,
      `admin/${template}`,
      { wide: true, adminSection: 'users', h: templateHelpers(deps.now()), error: null, notice: null, ...data },
      status,
    );
  /** Who reads: the signed-in admin, or an auditor (the console's gate let only those two in). */
  const reader = (ctx: AppContext): AdminReader => (ctx.state.account!.isAdmin ? me(ctx) : 'auditor');

  async function userPage(ctx: AppContext, id: string, extra: Record<string, unknown> = {}, status = 200) {
    const user = await userAdmin.get(reader(ctx), id);
    const events = await deps.auditLog.list({ accountId: id }, { limit: 20 });
    const done = typeof ctx.query['done'] === 'string' ? DONE[ctx.query['done']] : undefined;
    page(
      ctx,
      'user',
      {
        title: user.email,
        user,
        events,
        canChange: ctx.state.account!.isAdmin,
        self: ctx.state.account!.id === user.id,
        notice: done ?? null,
        ...extra,
      },
      status,
    );
  }

  router.get('/admin/users', async (ctx) => {
    const query = parseWire(adminUserSearchSchema, { ...ctx.query, limit: PAGE_SIZE });
    const found = await userAdmin.search(reader(ctx), query);
    page(ctx, 'users', { title: 'Users', q: query.q, users: found.data, nextAfter: found.next_after });
  });

  router.get('/admin/users/:id', async (ctx) => userPage(ctx, ctx.params['id']!));

  /** A change from the account's page: done, back to it with a notice; refused, the page says why. */
  const action = (
    path: string,
    done: string,
    run: (caller: Principal, id: string, ctx: AppContext, by: Provenance) => Promise<unknown>,
  ) =>
    router.post(`/admin/users/:id/${path}`, ...deps.formGuard, async (ctx) => {
      const id = ctx.params['id']!;
      const result = await attempt(() => run(me(ctx), id, ctx, provenanceOf(ctx)));
      if (!result.ok) return userPage(ctx, id, { error: result.message }, result.status);
      seeOther(ctx, `/admin/users/${encodeURIComponent(id)}?done=${done}`);
    });
  action('disable', 'disabled', (caller, id, _ctx, by) => userAdmin.disable(caller, id, by));
  action('enable', 'enabled', (caller, id, _ctx, by) => userAdmin.enable(caller, id, by));
  action('reset-2fa', 'two-factor-reset', (caller, id, _ctx, by) => userAdmin.resetTwoFactor(caller, id, by));
  action('send-password-reset', 'reset-sent', (caller, id, _ctx, by) => userAdmin.sendPasswordReset(caller, id, by));
  action('roles', 'roles', (caller, id, ctx, by) => {
    const body = formBody(ctx);
    return userAdmin.setRoles(caller, id, { admin: body['admin'] === 'on', auditor: body['auditor'] === 'on' }, by);
  });

  // Destructive changes ask first, on a page of their own.
  const confirmations = {
    disable: {
      heading: (email: string) => `Disable ${email}?`,
      message:
        'Their sessions end and every credential of theirs (API keys, OAuth tokens, their applications’ ' +
        'client-credentials tokens) is refused from the next request on. Their grants are revoked. ' +
        'API keys and applications stay, unusable, until the account is enabled again.',
      button: 'Disable account',
    },
    delete: {
      heading: (email: string) => `Delete ${email}?`,
      message:
        'The account and everything it owns (API keys, applications and their tokens, webhooks, projects, ' +
        'grants) are deleted. This cannot be undone.',
      button: 'Delete account',
    },
  };
  for (const [what, text] of Object.entries(confirmations)) {
    router.get(`/admin/users/:id/${what}`, async (ctx) => {
      const user = await userAdmin.get(reader(ctx), ctx.params['id']!);
      const back = `/admin/users/${encodeURIComponent(user.id)}`;
      render.page(ctx, 'dashboard/confirm', {
        wide: true,
        adminSection: 'users',
        title: text.heading(user.email),
        heading: text.heading(user.email),
        message: text.message,
        detail: { label: 'Account', value: user.email },
        action: `${back}/${what}`,
        button: text.button,
        cancel: back,
        error: null,
        notice: null,
      });
    });
  }

  router.post('/admin/users/:id/delete', ...deps.formGuard, async (ctx) => {
    const id = ctx.params['id']!;
    const result = await attempt(() => userAdmin.remove(me(ctx), id, provenanceOf(ctx)));
    if (!result.ok) return userPage(ctx, id, { error: result.message }, result.status);
    seeOther(ctx, '/admin/users?done=deleted');
  });

  return router;
}
