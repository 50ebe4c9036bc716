import Router from '@koa/router';
import type { Middleware } from 'koa';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import type { AccountsService } from './accounts.service.ts';
import type { TwoFactorService } from './two-factor.service.ts';
import type { EnrollmentResult, Login } from './login.ts';

import type { PasskeysService } from '../passkeys/passkeys.service.ts';
import { credentialField, registrationResponseSchema } from '../../wire/passkeys.ts';
import { parseWire } from '../../wire/parse.ts';
import { MAX_RETURN_TO } from './accounts.pages.ts';
import { provenanceOf } from '../../http/request-facts.ts';
import type { Provenance } from '../../domain/audit.ts';

export interface SecurityPagesDeps {
  accounts: AccountsService;
  twoFactor: TwoFactorService;
  passkeys: PasskeysService;
  login: Login;
  /** Takes back every application's access of an account (grants, refresh and access tokens). */
  revokeAllApplications(userId: string, by: Provenance): Promise<void>;
  render: Renderer;
  formGuard: Middleware<AppState>[];
  /** Sudo mode (fresh-auth.ts): every change here needs a recent interactive authentication. */
  freshAuth: Middleware<AppState>;
  secureCookies: boolean;
  now(): number;
}

/** New recovery codes stay viewable (reload, download) this long, or until "I have saved them". */
const SHOWN_CODES_TTL_MS = 15 * 60_000;
const SHOWN_CODES_COOKIE = 'lk_recovery_codes';
const RECOVERY_CODES_PATH = '/settings/security/2fa/recovery-codes';

/** Notices after a redirect (`?done=`): fixed texts, never echoed from the URL. */
const NOTICES: Record<string, string> = {
  'passkey-added': 'Passkey added. You can sign in with it now.',
  'passkey-removed': 'Passkey removed. It can no longer sign in to your account.',
};

/**
 * Settings → Security: change password; turn TOTP two-factor authentication on (QR code and text
 * secret, confirmed with a first code — a wrong one shows the same QR code again — then ten
 * recovery codes) and off (password and a code). Secrets are rendered straight into the response
 * (no-store), never put in a URL. The recovery codes are shown after a redirect, from a sealed
 * cookie bound to this session, until the person says they saved them (or 15 minutes pass), so
 * a reload shows them again and the .txt download can be a plain GET. Every change needs sudo
 * mode, and every password or code checked here is throttled like sign-in.
 */
export function securityPagesRouter(deps: SecurityPagesDeps): Router<AppState> {
  const { accounts, twoFactor, passkeys, render, freshAuth } = deps;
  // CSRF first: a forged form is refused as such, whatever the session's age.
  const guard = [...deps.formGuard, freshAuth];
  const router = new Router<AppState>({ prefix: '/settings/security' });

  router.use(async (ctx, next) => {
    if (!ctx.state.account)
      return ctx.redirect(
        `/login?return_to=${encodeURIComponent(ctx.path.length <= MAX_RETURN_TO ? ctx.path : '/settings/security')}`,
      );
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  const overview = async (ctx: AppContext, notice: { error?: string; message?: string } = {}, status = 200) => {
    const account = ctx.state.account!;
    render.page(
      ctx,
      'security/overview',
      {
        wide: true,
        section: 'security',
        status: await twoFactor.status(account.id),
        passkeys: (await passkeys.list(account.id)).map((p) => ({
          ...p,
          created: day(p.createdAt),
          lastUsed: p.lastUsedAt === null ? null : day(p.lastUsedAt),
        })),
        error: notice.error ?? null,
        message: notice.message ?? null,
      },
      status,
    );
  };

  router.get('/', async (ctx) => {
    const done = ctx.query['done'];
    await overview(ctx, typeof done === 'string' && Object.hasOwn(NOTICES, done) ? { message: NOTICES[done]! } : {});
  });

  const signedIn = (ctx: AppContext) => ctx.state.account!;
  const shownCodesCookie = {
    signed: true,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: deps.secureCookies,
    path: '/settings/security/2fa',
  };
  // This browser session and account only: signing out, or another account, cannot read them.
  const shownCodesBind = (ctx: AppContext) => `${signedIn(ctx).id}:${ctx.state.sessionId ?? ''}`;
  const shownCodes = (ctx: AppContext): string[] | null => {
    const sealed = ctx.cookies.get(SHOWN_CODES_COOKIE, { signed: true });
    return sealed ? twoFactor.openShownCodes(shownCodesBind(ctx), sealed) : null;
  };

  router.post('/password', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const body = ctx.request.body as Record<string, unknown>;
    const current = await deps.login.recheckPassword(account, body['current_password'], ctx.ip);
    if (!current.ok) {
      return overview(
        ctx,
        { error: current.status === 429 ? current.message : 'The current password is not right' },
        current.status === 429 ? 429 : 400,
      );
    }
    try {
      const next = body['new_password'];
      await accounts.setPassword(
        account.id,
        ctx.state.sessionId!,
        typeof next === 'string' ? next : '',
        provenanceOf(ctx),
      );
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      return overview(ctx, { error: refusal.message }, refusal.status);
    }
    // A checkbox, checked by default: whoever had the old password may have authorized apps too.
    const revokeApps = body['revoke_applications'] === 'on';
    if (revokeApps) await deps.revokeAllApplications(account.id, provenanceOf(ctx));
    await overview(ctx, {
      message:
        'Password changed. Your other sessions were signed out' +
        `${revokeApps ? " and every application's access was revoked" : ''}.`,
    });
  });

  router.post('/2fa/begin', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    try {
      const enrollment = await twoFactor.begin(account.id, account.email);
      render.page(ctx, 'security/enroll', { wide: true, section: 'security', ...enrollment, error: null });
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      await overview(ctx, { error: refusal.message }, refusal.status);
    }
  });

  router.post('/2fa/confirm', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const code = (ctx.request.body as Record<string, unknown>)['code'];
    let result: EnrollmentResult;
    try {
      result = await deps.login.confirmEnrollment(account, code, ctx.ip, provenanceOf(ctx));
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      return overview(ctx, { error: refusal.message }, refusal.status);
    }
    if (!result.ok) {
      // The same secret again: the app already holds it, so the person only types a new code.
      const enrollment = await twoFactor.pending(account.id, account.email);
      if (!enrollment) return overview(ctx, { error: result.message }, result.status);
      const view = { wide: true, section: 'security', ...enrollment, error: result.message };
      return render.page(ctx, 'security/enroll', view, result.status);
    }
    const sealed = twoFactor.sealShownCodes(shownCodesBind(ctx), result.codes, deps.now() + SHOWN_CODES_TTL_MS);
    ctx.cookies.set(SHOWN_CODES_COOKIE, sealed, { ...shownCodesCookie, maxAge: SHOWN_CODES_TTL_MS });
    ctx.status = 303;
    ctx.redirect(RECOVERY_CODES_PATH);
  });

  router.get('/2fa/recovery-codes', async (ctx) => {
    const codes = shownCodes(ctx);
    if (!codes) return ctx.redirect('/settings/security');
    render.page(ctx, 'security/recovery-codes', { wide: true, section: 'security', codes });
  });

  router.get('/2fa/recovery-codes.txt', async (ctx) => {
    const codes = shownCodes(ctx);
    if (!codes) return render.error(ctx, 404, 'These recovery codes are no longer shown', NOT_SHOWN);
    ctx.attachment('latchkey-recovery-codes.txt');
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = recoveryCodesText(signedIn(ctx).email, codes);
  });

  router.post('/2fa/recovery-codes/saved', ...deps.formGuard, async (ctx) => {
    ctx.cookies.set(SHOWN_CODES_COOKIE, null, shownCodesCookie);
    ctx.status = 303;
    ctx.redirect('/settings/security');
  });

  router.post('/2fa/disable', ...guard, async (ctx) => {
    const account = ctx.state.account!;
    const body = ctx.request.body as Record<string, unknown>;
    const code = await deps.login.recheckCode(account, String(body['code'] ?? ''), ctx.ip);
    const checked = code.ok ? await deps.login.recheckPassword(account, body['password'], ctx.ip) : code;
    if (!checked.ok) {
      const error =
        checked.status === 429
          ? checked.message
          : 'To turn off two-factor authentication, enter your password and a current code.';
      return overview(ctx, { error }, checked.status === 429 ? 429 : 400);
    }
    await twoFactor.disable(account.id, provenanceOf(ctx));
    await overview(ctx, { message: 'Two-factor authentication is off.' });
  });

  // Passkeys. The page's script asks for options (a stored challenge for this browser), lets the
  // browser create the passkey, then submits the form with the answer in `response`.
  router.post('/passkeys/options', ...guard, async (ctx) => {
    ctx.body = await passkeys.registrationOptions(ctx.state.account!, ctx.state.csrfToken!);
  });

  router.post('/passkeys', ...guard, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    try {
      const response = parseWire(credentialField(registrationResponseSchema), body['response']);
      await passkeys.register(
        ctx.state.account!,
        { name: String(body['name'] ?? ''), response },
        ctx.state.csrfToken!,
        provenanceOf(ctx),
      );
    } catch (err) {
      const refusal = toAppError(err);
      if (!refusal) throw err;
      return overview(ctx, { error: refusal.message }, refusal.status);
    }
    ctx.status = 303;
    ctx.redirect('/settings/security?done=passkey-added#passkeys');
  });

  // Another account's passkey, or none: NotFound (a "not found" page) and nothing is removed.
  router.post('/passkeys/:id/remove', ...guard, async (ctx) => {
    await passkeys.remove(ctx.state.account!, String(ctx.params['id']).slice(0, 100), provenanceOf(ctx));
    ctx.status = 303;
    ctx.redirect('/settings/security?done=passkey-removed#passkeys');
  });

  return router;
}

const NOT_SHOWN =
  'Recovery codes can be downloaded only while they are on screen, right after turning on two-factor ' +
  'authentication. To get new ones, turn two-factor authentication off and on again.';

/** The downloaded file: what the codes are for, then one code a line. */
function recoveryCodesText(email: string, codes: string[]): string {
  return [
    `Latchkey recovery codes for ${email}`,
    'Each code signs you in once if you lose your authenticator app. Keep them somewhere safe.',
    '',
    ...codes,
    '',
  ].join('\n');
}

/** A date as this page shows it: the day, in UTC. */
const day = (ms: number) => ({ iso: new Date(ms).toISOString(), text: new Date(ms).toISOString().slice(0, 10) });
