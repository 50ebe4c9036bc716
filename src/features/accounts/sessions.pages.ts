import Router from '@koa/router';
import type { Middleware } from 'koa';
import { NotFound } from '../../domain/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import { when } from '../../shared/relative-time.ts';

export interface SessionsPagesDeps {
  accounts: AccountsService;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  now(): number;
}

const NOTICES: Record<string, string> = {
  'signed-out': 'That session is signed out.',
  'signed-out-others': 'Every other session is signed out.',
};

/** An address as people write it: IPv4-mapped IPv6 (`::ffff:203.0.113.7`) shown as plain IPv4. */
const displayIp = (ip: string | null) => (ip && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip);

/**
 * Settings → Sessions: the account's dashboard sessions (device, address, signed in, last seen,
 * "this device"), and signing out any other one or all others. Only the signed-in account's own
 * sessions are listed or ended: the forms name a session by its public handle, and the service
 * ends it only if it is another session of this very account (a forged handle ends nothing).
 */
export function sessionsPagesRouter(deps: SessionsPagesDeps): Router<AppState> {
  const { accounts, render } = deps;
  const router = new Router<AppState>({ prefix: '/settings/sessions' });

  router.use(async (ctx, next) => {
    if (!ctx.state.account) {
      if (ctx.method !== 'GET') ctx.status = 303;
      return ctx.redirect('/login?return_to=%2Fsettings%2Fsessions');
    }
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const page = async (ctx: AppContext, notice: string | null) => {
    const now = deps.now();
    const sessions = await accounts.listSessions(ctx.state.account!.id, ctx.state.sessionId!);
    render.page(ctx, 'security/sessions', {
      wide: true,
      section: 'sessions',
      notice,
      sessions: sessions.map((s) => ({
        ...s,
        ip: displayIp(s.ip),
        created: when(s.createdAt, now),
        lastSeen: when(s.lastSeenAt, now),
      })),
      others: sessions.filter((s) => !s.current).length,
    });
  };

  router.get('/', async (ctx) => {
    const done = ctx.query['done'];
    await page(ctx, typeof done === 'string' && Object.hasOwn(NOTICES, done) ? NOTICES[done]! : null);
  });

  router.post('/sign-out', ...deps.formGuard, async (ctx) => {
    const field = (ctx.request.body as Record<string, unknown>)['session'];
    // Not a string, or not one of this account's other sessions: nothing is ended (NotFound, 404).
    if (typeof field !== 'string' || field.length > 100) throw new NotFound('Session');
    await accounts.endOtherSession(ctx.state.account!.id, ctx.state.sessionId!, field);
    ctx.status = 303;
    ctx.redirect('/settings/sessions?done=signed-out');
  });

  router.post('/sign-out-others', ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account!;
    await accounts.endOtherSessions(account.id, ctx.state.sessionId!, ctx.state.sessionProviderLink ?? null);
    ctx.status = 303;
    ctx.redirect('/settings/sessions?done=signed-out-others');
  });

  return router;
}
