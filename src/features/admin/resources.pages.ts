import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { Config } from '../../config.ts';
import { Forbidden } from '../../domain/errors.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { sha256 } from '../../shared/secrets.ts';
import { parseWire } from '../../wire/parse.ts';
import { adminApiKeysQuerySchema, adminApplicationsQuerySchema } from '../../wire/admin-resources.ts';
import { templateHelpers } from '../dashboard/shared.ts';
import type { ApplicationSuspension } from '../applications/suspension.service.ts';
import type { ApiKeysAdmin } from '../api-keys/api-keys-admin.service.ts';
import type { ApiKeysService } from '../api-keys/api-keys.service.ts';
import type { WebhookHealth } from '../webhooks/health.service.ts';
import type { SigningKeysConsole } from '../../oidc/signing-keys.service.ts';
import { effectiveSettings } from './settings.ts';
import { provenanceOf } from '../../http/request-facts.ts';

export interface ResourcePagesDeps {
  render: Renderer;
  formGuard: Middleware<AppState>[];
  now(): number;
  config: Config;
  applicationSuspension: ApplicationSuspension;
  apiKeysAdmin: ApiKeysAdmin;
  apiKeys: ApiKeysService;
  webhookHealth: WebhookHealth;
  signingKeys: SigningKeysConsole;
}

/** What a change's redirect says happened (`?done=`), shown once above the list. */
const NOTICES: Record<string, string> = {
  suspended: 'Application suspended: it is refused everywhere from now on; its grants wait for it.',
  unsuspended: 'Application unsuspended: it and the grants it held work again.',
  'key-revoked': 'API key revoked: every request that uses it is refused from now on.',
  rotated: 'Signing keys rotated. The new key signs after the next restart of every instance.',
};

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The signed-in operator as a principal (an admin's carries admin:all; an auditor's does not). */
function operator(ctx: AppContext) {
  const account = ctx.state.account!;
  return sessionPrincipal(account, ctx.state.sessionId ? sha256(ctx.state.sessionId) : '');
}

/** A confirmation page leads to a change: auditors, who change nothing, are not offered one. */
function requireAdmin(ctx: AppContext): void {
  if (!ctx.state.account?.isAdmin) throw new Forbidden('Auditors can see the console but not change anything.');
}

/** The query string of the next page: the filter kept, empty values left out. */
const nextQuery = (params: Record<string, string | null>) =>
  new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();

function seeOther(ctx: AppContext, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}

/**
 * `/admin/applications`, `/admin/api-keys`, `/admin/webhooks`, `/admin/signing-keys` and
 * `/admin/settings`: every resource of the server whoever owns it. Auditors see each page without
 * its change forms; a change is a confirmation page, then a form post (CSRF, fresh sign-in).
 */
export function resourcePagesRouter(deps: ResourcePagesDeps): Router<AppState> {
  const router = new Router<AppState>();
  const page = (ctx: AppContext, template: string, adminSection: string, data: Record<string, unknown>) =>
    deps.render.page(ctx, template, {
      wide: true,
      adminSection,
      h: { ...templateHelpers(deps.now()), nextQuery },
      error: null,
      notice: NOTICES[text(ctx.query['done']) ?? ''] ?? null,
      isAdmin: ctx.state.account?.isAdmin === true,
      ...data,
    });
  const confirm = (ctx: AppContext, adminSection: string, data: Record<string, unknown>) =>
    page(ctx, 'dashboard/confirm', adminSection, { detail: null, ...data });

  router.get('/admin/applications', async (ctx) => {
    const search = text(ctx.query['search'])?.trim() ?? '';
    const query = parseWire(adminApplicationsQuerySchema, {
      search: search || undefined,
      cursor: text(ctx.query['cursor']),
    });
    const result = await deps.applicationSuspension.list(query);
    page(ctx, 'admin/applications', 'applications', { title: 'Applications', search, ...result });
  });

  for (const action of ['suspend', 'unsuspend'] as const) {
    router.get(`/admin/applications/:id/${action}`, async (ctx) => {
      requireAdmin(ctx);
      const app = await deps.applicationSuspension.get(ctx.params['id']!);
      confirm(ctx, 'applications', {
        title: `${action === 'suspend' ? 'Suspend' : 'Unsuspend'} ${app.name}`,
        heading: `${action === 'suspend' ? 'Suspend' : 'Unsuspend'} the application “${app.name}”?`,
        message:
          action === 'suspend'
            ? 'It stops working at once: sign-ins through it, its token requests and every token it holds are ' +
              'refused. Its users’ grants are kept, so unsuspending it restores them. Its owner sees that an ' +
              'administrator suspended it and cannot undo that.'
            : 'It works again at once, with the grants its users had given it.',
        detail: { label: 'Client ID', value: app.client_id },
        action: `/admin/applications/${encodeURIComponent(app.client_id)}/${action}`,
        button: action === 'suspend' ? 'Suspend application' : 'Unsuspend application',
        cancel: '/admin/applications',
      });
    });
    router.post(`/admin/applications/:id/${action}`, ...deps.formGuard, async (ctx) => {
      await deps.applicationSuspension[action](operator(ctx), ctx.params['id']!, provenanceOf(ctx));
      seeOther(ctx, `/admin/applications?done=${action}ed`);
    });
  }

  router.get('/admin/api-keys', async (ctx) => {
    const owner = text(ctx.query['owner'])?.trim() ?? '';
    const query = parseWire(adminApiKeysQuerySchema, {
      owner_email: owner || undefined,
      cursor: text(ctx.query['cursor']),
    });
    const result = await deps.apiKeysAdmin.list(query);
    page(ctx, 'admin/api-keys', 'api-keys', { title: 'API keys', owner, ...result });
  });
  router.get('/admin/api-keys/:id/revoke', async (ctx) => {
    requireAdmin(ctx);
    const key = await deps.apiKeys.get(operator(ctx), ctx.params['id']!);
    confirm(ctx, 'api-keys', {
      title: `Revoke ${key.name}`,
      heading: `Revoke the API key “${key.name}”?`,
      message: 'Every request that uses this key is refused from now on. Its owner will need a new key.',
      detail: { label: 'Key', value: `${key.prefix}…` },
      action: `/admin/api-keys/${encodeURIComponent(key.id)}/revoke`,
      button: 'Revoke key',
      cancel: '/admin/api-keys',
    });
  });
  router.post('/admin/api-keys/:id/revoke', ...deps.formGuard, async (ctx) => {
    await deps.apiKeys.revoke(operator(ctx), ctx.params['id']!, provenanceOf(ctx));
    seeOther(ctx, '/admin/api-keys?done=key-revoked');
  });

  router.get('/admin/webhooks', async (ctx) => {
    page(ctx, 'admin/webhooks', 'webhooks', { title: 'Webhooks', endpoints: await deps.webhookHealth.list() });
  });

  router.get('/admin/signing-keys', async (ctx) => {
    page(ctx, 'admin/signing-keys', 'signing-keys', { title: 'Signing keys', keys: await deps.signingKeys.list() });
  });
  router.get('/admin/signing-keys/rotate', async (ctx) => {
    requireAdmin(ctx);
    confirm(ctx, 'signing-keys', {
      title: 'Rotate the signing keys',
      heading: 'Rotate the signing keys?',
      message:
        'New RS256 and ES256 keys are stored, first. The running instances keep signing with the keys they ' +
        'loaded: the new key signs after the next restart of every instance. The current keys stay published ' +
        'so the tokens they signed keep verifying until those expire.',
      action: '/admin/signing-keys/rotate',
      button: 'Rotate keys',
      cancel: '/admin/signing-keys',
    });
  });
  router.post('/admin/signing-keys/rotate', ...deps.formGuard, async (ctx) => {
    await deps.signingKeys.rotate(operator(ctx), provenanceOf(ctx));
    seeOther(ctx, '/admin/signing-keys?done=rotated');
  });

  router.get('/admin/settings', async (ctx) => {
    page(ctx, 'admin/settings', 'settings', { title: 'Settings', settings: effectiveSettings(deps.config) });
  });
  return router;
}
