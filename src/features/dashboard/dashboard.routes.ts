import Router from '@koa/router';
import type { AppState } from '../../http/context.ts';
import { registerApiKeyPages } from './api-keys.pages.ts';
import { registerApplicationPages } from './applications.pages.ts';
import { registerApiPages } from './apis.pages.ts';
import { registerAuthorizedAppPages } from './authorized-apps.pages.ts';
import { registerWebhookPages } from './webhooks.pages.ts';
import { dashboardPage, signedIn, type DashboardDeps } from './shared.ts';
import { isLiveKey, keyFlags } from './view-models.ts';

export type { DashboardDeps } from './shared.ts';

/**
 * The developer dashboard: /dashboard (overview) and /settings/... (API keys, applications,
 * authorized apps, webhooks). /settings/security belongs to the accounts feature. Every page needs
 * a signed-in browser; every form carries the CSRF token and goes through `formGuard`.
 */
export function dashboardRouter(deps: DashboardDeps): Router<AppState> {
  const router = new Router<AppState>();
  const page = dashboardPage(deps);

  router.get(
    '/dashboard',
    signedIn(async (ctx, me) => {
      const t = deps.now();
      const [keys, apps, grants, endpoints, twoFactor] = await Promise.all([
        deps.apiKeys.list(me),
        deps.applications.list(me),
        deps.consents.list(me),
        deps.webhooks.list(me.requireAccount()),
        deps.twoFactorEnabled ? deps.twoFactorEnabled(me.requireAccount()) : Promise.resolve(null),
      ]);
      const live = keys.filter(isLiveKey);
      page(ctx, 'overview', 'overview', {
        title: 'Dashboard',
        counts: {
          keys: live.length,
          keysNeedingAttention: live.filter((k) => keyFlags(k, t).flags.length > 0).length,
          apps: apps.length,
          grants: grants.length,
          endpoints: endpoints.length,
          endpointsDisabled: endpoints.filter((e) => e.status !== 'active').length,
        },
        recentKeys: live.slice(0, 5).map((k) => ({ ...k, ...keyFlags(k, t) })),
        apps: apps.slice(0, 5),
        moreApps: Math.max(0, apps.length - 5),
        twoFactor,
        // The first sign-in of an account (just signed up, or made by an administrator) is a
        // welcome, not a "welcome back".
        newAccount: (ctx.state.account?.signInCount ?? 0) <= 1,
      });
    }),
  );

  router.get(
    '/settings',
    signedIn((ctx) => ctx.redirect('/settings/api-keys')),
  );

  registerApiKeyPages(router, deps);
  registerApplicationPages(router, deps);
  registerApiPages(router, deps);
  registerAuthorizedAppPages(router, deps);
  registerWebhookPages(router, deps);
  return router;
}
