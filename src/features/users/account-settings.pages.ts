import Router from '@koa/router';
import type { Middleware } from 'koa';
import { sessionPrincipal } from '../../domain/principal.ts';
import { profileNameSchema } from '../../wire/users.ts';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { MAX_RETURN_TO } from '../accounts/accounts.pages.ts';
import { CONFIRM_EMAIL_PATH, type EmailChange } from '../accounts/email-change.ts';
import type { Decision } from '../rate-limit/decide.ts';
import type { AccountExporter } from './account-export.ts';
import type { UsersService } from './users.service.ts';
import { provenanceOf } from '../../http/request-facts.ts';

const HOME = '/settings/account';
const DELETE_PAGE = '/settings/account/delete';
/** Where a deleted account's browser lands (signed out, so outside the signed-in pages). */
export const DELETED_PAGE = '/account-deleted';
const DELETED_COOKIE = 'lk_account_deleted';

export interface AccountSettingsDeps {
  users: Pick<UsersService, 'update' | 'deleteOwn'>;
  emailChange: EmailChange;
  exporter: AccountExporter;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  /** Sudo mode (accounts/fresh-auth.ts), sending a stale session back to `formPage` once confirmed. */
  freshAuth(formPage: string): Middleware<AppState>;
  /** Counts a change-of-address request of the account (each one mails someone) and decides. */
  emailChangeLimit(userId: string): Promise<Decision>;
  /** Ends the dashboard session and the OAuth (provider) session of this browser, and their cookies. */
  endSessions(ctx: AppContext): Promise<void>;
  secureCookies: boolean;
  now(): number;
}

/** Notices after a redirect (`?done=`): fixed texts, never echoed input. */
const NOTICES: Record<string, string> = {
  name: 'Name saved.',
  'email-changed': 'Your email address is changed. Sign in with it from now on.',
};

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * Settings → Account: the name; a change of email address (sudo mode, then a link to the new
 * address that the signed-in owner uses; a GET shows a button, only its POST changes anything, so
 * a mail scanner that opens links changes nothing); a JSON export of the account's data (sudo
 * mode); and deleting the account (sudo mode and the email typed again), which signs the browser
 * out. Every form needs the CSRF token, and everything acts on the signed-in account only: no form
 * names an account.
 */
export function accountSettingsRouter(deps: AccountSettingsDeps): Router<AppState> {
  const { render, formGuard, emailChange } = deps;
  const router = new Router<AppState>();

  // Signed in, or off to sign in and back (a link from the mail keeps its token in `return_to`).
  const signedIn: Middleware<AppState> = async (ctx, next) => {
    if (ctx.state.account) {
      ctx.set('Cache-Control', 'no-store');
      return next();
    }
    const back = ctx.method === 'GET' && ctx.url.length <= MAX_RETURN_TO ? ctx.url : HOME;
    ctx.status = 303;
    ctx.redirect(`/login?return_to=${encodeURIComponent(back)}`);
  };

  const overview = (
    ctx: AppContext,
    notice: { error?: string; message?: string; sentTo?: string; name?: string; newEmail?: string } = {},
    status = 200,
  ) => {
    const account = ctx.state.account!;
    render.page(
      ctx,
      'account/overview',
      {
        wide: true,
        section: 'account',
        name: notice.name ?? account.name ?? '',
        newEmail: notice.newEmail ?? '',
        emailVerified: account.emailVerified,
        sentTo: notice.sentTo ?? null,
        error: notice.error ?? null,
        notice: notice.message ?? null,
      },
      status,
    );
  };

  router.get(HOME, signedIn, (ctx) => {
    const done = ctx.query['done'];
    overview(ctx, { ...(typeof done === 'string' && Object.hasOwn(NOTICES, done) && { message: NOTICES[done] }) });
  });

  router.post(`${HOME}/name`, signedIn, ...formGuard, async (ctx) => {
    const account = ctx.state.account!;
    const input = str((ctx.request.body as Record<string, unknown>)['name']);
    const name = profileNameSchema.safeParse(input);
    if (!name.success) return overview(ctx, { error: name.error.issues[0]!.message, name: input }, 400);
    await deps.users.update(sessionPrincipal(account), account.id, { name: name.data }, provenanceOf(ctx));
    ctx.status = 303;
    ctx.redirect(`${HOME}?done=name`);
  });

  router.post(`${HOME}/email`, signedIn, ...formGuard, deps.freshAuth(HOME), async (ctx) => {
    const account = ctx.state.account!;
    const input = str((ctx.request.body as Record<string, unknown>)['email']);
    const limit = await deps.emailChangeLimit(account.id);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfter));
      const wait = `${limit.retryAfter} second${limit.retryAfter === 1 ? '' : 's'}`;
      return overview(ctx, { error: `Too many address changes. Try again in ${wait}.`, newEmail: input }, 429);
    }
    try {
      // The same answer whether or not the address has an account: its mailbox is told which.
      const sentTo = await emailChange.request(account.id, input);
      overview(ctx, { sentTo });
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal || refusal.status >= 500) throw err;
      overview(ctx, { error: refusal.message, newEmail: input }, 400);
    }
  });

  const unusableLink = (ctx: AppContext) =>
    render.error(
      ctx,
      400,
      'This link cannot be used',
      'It has expired, was already used, was replaced by a newer one, or belongs to another account. ' +
        'Sign in to the account that asked for the change, and ask for a new link in Settings → Account.',
    );

  // Opening the link only shows what it would do: mail scanners and link previews fetch with GET.
  router.get(CONFIRM_EMAIL_PATH, signedIn, async (ctx) => {
    const token = ctx.query['token'];
    const email = await emailChange.pending(ctx.state.account!.id, token);
    if (!email) return unusableLink(ctx);
    render.page(ctx, 'account/confirm-email', { wide: true, section: 'account', email, token });
  });

  router.post(CONFIRM_EMAIL_PATH, signedIn, ...formGuard, async (ctx) => {
    const token = (ctx.request.body as Record<string, unknown>)['token'];
    const session = { id: ctx.state.sessionId!, providerLink: ctx.state.sessionProviderLink ?? null };
    const outcome = await emailChange.confirm(ctx.state.account!.id, token, session, provenanceOf(ctx));
    if (outcome.ok) {
      ctx.status = 303;
      return ctx.redirect(`${HOME}?done=email-changed`);
    }
    if (outcome.reason === 'unusable') return unusableLink(ctx);
    render.error(
      ctx,
      409,
      'That address is taken',
      'Another account uses that email address now, so yours was not changed. ' +
        'Choose another address in Settings → Account.',
    );
  });

  router.get(`${HOME}/export`, signedIn, deps.freshAuth(HOME), async (ctx) => {
    const data = await deps.exporter.of(ctx.state.account!, ctx.state.sessionId!);
    const date = new Date(deps.now()).toISOString().slice(0, 10);
    ctx.type = 'application/json';
    ctx.set('Content-Disposition', `attachment; filename="latchkey-account-${date}.json"`);
    ctx.body = `${JSON.stringify(data, null, 2)}\n`;
  });

  const deletePage = (ctx: AppContext, error: string | null, status = 200) =>
    render.page(ctx, 'account/delete', { wide: true, section: 'account', error }, status);

  router.get(DELETE_PAGE, signedIn, deps.freshAuth(DELETE_PAGE), (ctx) => deletePage(ctx, null));

  router.post(DELETE_PAGE, signedIn, ...formGuard, deps.freshAuth(DELETE_PAGE), async (ctx) => {
    const account = ctx.state.account!;
    const typed = str((ctx.request.body as Record<string, unknown>)['confirm_email'])
      .trim()
      .toLowerCase();
    if (typed !== account.email) {
      return deletePage(ctx, 'Type your email address exactly as shown to delete the account.', 400);
    }
    await deps.users.deleteOwn(account.id, provenanceOf(ctx));
    await deps.endSessions(ctx);
    // Only the browser that just deleted an account sees the goodbye page (a fixed text, ten minutes).
    ctx.cookies.set(DELETED_COOKIE, '1', {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: deps.secureCookies,
      maxAge: 10 * 60_000,
    });
    ctx.status = 303;
    ctx.redirect(DELETED_PAGE);
  });

  router.get(DELETED_PAGE, (ctx) => {
    if (ctx.cookies.get(DELETED_COOKIE, { signed: true }) !== '1') return ctx.redirect('/login');
    render.page(ctx, 'account/deleted', {});
  });

  return router;
}
