import Router from '@koa/router';
import type { AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { describeDevice } from '../accounts/device.ts';
import type { AuditTrailService } from './audit-trail.service.ts';
import { cursorOf, displayIp } from './view.ts';
import { when } from '../../shared/relative-time.ts';
import { describeActorFor, describeEvent } from './sentences.ts';

/** Events on one page of Settings → Activity. */
const PAGE_SIZE = 50;

export interface ActivityPagesDeps {
  auditTrail: Pick<AuditTrailService, 'ofAccount'>;
  render: Renderer;
  now(): number;
}

/**
 * Settings → Activity: the signed-in person's own trail (what happened to their account, and what
 * they did), newest first, in sentences, with where each came from. Only their own: the filter is
 * the session's account, never a parameter.
 */
export function activityPagesRouter(deps: ActivityPagesDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/settings/activity' });

  router.get('/', async (ctx) => {
    const account = ctx.state.account;
    if (!account) return ctx.redirect('/login?return_to=%2Fsettings%2Factivity');
    ctx.set('Cache-Control', 'no-store');
    const before = cursorOf(ctx.query['before']);
    const { entries, nextBefore } = await deps.auditTrail.ofAccount(account.id, { before, limit: PAGE_SIZE });
    const now = deps.now();
    deps.render.page(ctx, 'security/activity', {
      wide: true,
      section: 'activity',
      olderPage: before !== undefined,
      nextBefore,
      events: entries.map((e) => {
        // Where an administrator acted from is the operators' business, not the account's: the
        // person sees their own addresses, and those of anyone without an account (a failed
        // sign-in, a replayed token), never an operator's.
        const shown = e.actor.accountId === null || e.actor.accountId === account.id;
        return {
          type: e.type,
          what: describeEvent(e),
          who: describeActorFor(account.id, e.actor),
          at: when(e.createdAt, now),
          ip: shown ? displayIp(e.ip) : null,
          device: shown && e.userAgent ? describeDevice(e.userAgent) : null,
          userAgent: shown ? e.userAgent : null,
        };
      }),
    });
  });

  return router;
}
