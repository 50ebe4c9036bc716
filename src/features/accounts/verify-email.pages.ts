import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { Decision } from '../rate-limit/decide.ts';
import type { EmailVerification } from './email-verification.ts';

export interface VerifyEmailPagesDeps {
  verification: EmailVerification;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  /** Counts a "resend the link" of this account and decides (each sends a mail). */
  resendLimit(userId: string): Promise<Decision>;
}

type State = 'ready' | 'verified' | 'unusable' | 'sent' | 'already' | 'limited';
const HEADINGS: Record<State, string> = {
  ready: 'Confirm your email address',
  verified: 'Email address confirmed',
  unusable: 'This link has expired',
  sent: 'Check your inbox',
  already: 'Email address confirmed',
  limited: 'Try again in a few minutes',
};

/**
 * The link sent at sign-up (`/verify-email?token=`) and "Resend the link". Opening the link shows
 * a button and only its POST uses the link: mail scanners that fetch every link in a message do not
 * confirm an address on their own.
 */
export function verifyEmailPagesRouter(deps: VerifyEmailPagesDeps): Router<AppState> {
  const { verification, render } = deps;
  const router = new Router<AppState>();
  const page = (ctx: AppContext, state: State, data: Record<string, unknown> = {}, status = 200) =>
    render.page(ctx, 'verify-email', { state, heading: HEADINGS[state], token: '', email: '', ...data }, status);

  router.get('/verify-email', async (ctx) => {
    const token = ctx.query['token'];
    if (!(await verification.usable(token))) return page(ctx, 'unusable', {}, 400);
    return page(ctx, 'ready', { token });
  });

  router.post('/verify-email', ...deps.formGuard, async (ctx) => {
    const verified = await verification.verify((ctx.request.body as Record<string, unknown>)['token']);
    if (!verified) return page(ctx, 'unusable', {}, 400);
    // The banner of this browser's account goes with it at once.
    if (ctx.state.account?.id === verified.userId) ctx.state.account = { ...ctx.state.account, emailVerified: true };
    return page(ctx, 'verified');
  });

  router.post('/verify-email/resend', ...deps.formGuard, async (ctx) => {
    const account = ctx.state.account;
    if (!account) {
      ctx.status = 303;
      return ctx.redirect('/login');
    }
    if (account.emailVerified) return page(ctx, 'already');
    const limit = await deps.resendLimit(account.id);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfter));
      return page(ctx, 'limited', {}, 429);
    }
    await verification.sendLink(account);
    return page(ctx, 'sent', { email: account.email });
  });

  return router;
}
