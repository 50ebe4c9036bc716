import { dashboardPage, seeOther, signedIn, type DashboardDeps, type DashboardRouter } from './shared.ts';
import { noticeFor } from './view-models.ts';
import { provenanceOf } from '../../http/request-facts.ts';

/** Settings → Authorized apps: every application the account granted access to, and Revoke. */
export function registerAuthorizedAppPages(router: DashboardRouter, deps: DashboardDeps): void {
  const { consents } = deps;
  const page = dashboardPage(deps);

  router.get(
    '/settings/authorized-apps',
    signedIn(async (ctx, me) => {
      page(ctx, 'authorized-apps', 'authorized-apps', {
        title: 'Authorized apps',
        grants: await consents.list(me),
        notice: noticeFor(ctx.query['done']),
      });
    }),
  );

  // Revoking is undone by authorizing again, so one clearly labelled button is enough (no confirmation page).
  router.post(
    '/settings/authorized-apps/:clientId/revoke',
    ...deps.formGuard,
    signedIn(async (ctx, me) => {
      await consents.revoke(me, ctx.params['clientId']!, provenanceOf(ctx));
      seeOther(ctx, '/settings/authorized-apps?done=consent-revoked');
    }),
  );
}
