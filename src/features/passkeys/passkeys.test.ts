/**
 * Passkeys over real HTTP against the real server, with a software authenticator that answers the
 * server's options as a platform authenticator does (test/support/soft-authenticator.ts): adding
 * one in Settings → Security, signing in with it on /login and in an OAuth authorization, removing
 * it, and the attacks on each step (replayed, missing, foreign and expired challenges, another
 * account's passkey, no user verification, another origin, no fresh authentication, no CSRF token).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { Browser, authorizeUrl, csrfFrom, formAction } from '../../../test/support/http.ts';
import { SoftAuthenticator, type AnswerOptions } from '../../../test/support/soft-authenticator.ts';
import { startWorld, REDIRECT_URI, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { token } from '../../../test/support/oauth.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const MINUTE = 60_000;
const alertText = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];

describe('Passkeys over HTTP', () => {
  let clock = T0;
  let world: TestWorld;
  let smtp: TestSmtpServer;

  before(async () => {
    smtp = await startSmtpServer();
    world = await startWorld({
      now: () => clock,
      // Mail is real here (passkey notices); whether an address is verified is another suite's subject.
      env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey <mailer@example.com>', REQUIRE_EMAIL_VERIFICATION: 'false' },
      emailPollMs: 3_600_000,
    });
  });
  after(async () => {
    await world.close();
    await smtp.close();
  });

  /** Sends everything queued; the subjects of the mail to `to` that arrived since `from`. */
  async function subjectsTo(to: string, from: number): Promise<string[]> {
    while ((await world.server.built.services.mailWorker.tick()) > 0);
    return smtp.received
      .slice(from)
      .filter((m) => m.envelope.to.includes(to))
      .map((m) => String(m.parsed.subject));
  }

  const passkeyRows = (userId: string) =>
    world.server.db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).execute();

  /** The page's CSRF token, and options from `optionsPath` asked for with it (as passkeys.js does). */
  async function options<T>(browser: Browser, page: string, optionsPath: string) {
    const csrf = csrfFrom(await (await browser.get(page)).text());
    const res = await browser.request(optionsPath, { method: 'POST', headers: { 'X-CSRF-Token': csrf } });
    assert.equal(res.status, 200, `options from ${optionsPath}`);
    return { csrf, options: (await res.json()) as T };
  }

  const registrationOptions = (user: Pick<TestUser, 'browser'>) =>
    options<PublicKeyCredentialCreationOptionsJSON>(
      user.browser,
      '/settings/security',
      '/settings/security/passkeys/options',
    );
  const signInOptions = (browser: Browser, page = '/login') =>
    options<PublicKeyCredentialRequestOptionsJSON>(browser, page, '/login/passkey/options');

  /** Adds a passkey through Settings → Security; answers the form post. */
  async function addPasskey(user: TestUser, authenticator: SoftAuthenticator, name: string, answer?: AnswerOptions) {
    const { csrf, options: o } = await registrationOptions(user);
    const response = JSON.stringify(authenticator.create(o, answer));
    return user.browser.postForm('/settings/security/passkeys', { _csrf: csrf, name, response });
  }

  async function personWithPasskey(opts: { twoFactor?: boolean } = {}) {
    const user = opts.twoFactor ? await world.user({ tag: 'pk', twoFactor: true }) : await world.user({ tag: 'pk' });
    const authenticator = new SoftAuthenticator(world.url);
    const added = await addPasskey(user, authenticator, 'Work laptop');
    assert.equal(added.status, 303);
    assert.equal(added.headers.get('location'), '/settings/security?done=passkey-added#passkeys');
    return { user, authenticator };
  }

  /** Signs `browser` in on /login with the authenticator's last passkey; answers the form post. */
  async function signInWithPasskey(browser: Browser, authenticator: SoftAuthenticator, answer?: AnswerOptions) {
    const { csrf, options: o } = await signInOptions(browser);
    const response = JSON.stringify(authenticator.get(o, undefined, answer));
    return browser.postForm('/login/passkey?return_to=%2Fsettings%2Fsecurity', { _csrf: csrf, response });
  }

  /** The sign-in metric's count for `result` (passkey sign-ins count as sign-ins). */
  const logins = async (result: 'success' | 'failure') => {
    const metric = world.server.built.services.metrics.registry.getSingleMetric('logins_total');
    return (await metric!.get()).values.find((v) => v.labels['result'] === result)?.value ?? 0;
  };

  const sessionOf = (browser: Browser) => {
    const id = [...browser.jar.entries()].find(([name]) => name === 'lk_session')?.[1];
    return id ? world.server.built.services.accounts.sessionAccount(id) : null;
  };

  it('adds a passkey (named, listed), signs in with it with no code step though 2FA is on, records hwk', async () => {
    const { user, authenticator } = await personWithPasskey({ twoFactor: true });
    const [row] = await passkeyRows(user.id);
    assert.equal(row?.name, 'Work laptop');
    assert.equal(row?.credential_id, authenticator.credentials[0]!.id);
    assert.equal(row?.device_type, 'singleDevice');
    const listed = await (await user.browser.get('/settings/security?done=passkey-added')).text();
    assert.match(listed, /Passkey added/);
    assert.match(listed, /Work laptop/);
    assert.match(listed, /Never/);

    clock += MINUTE;
    const browser = new Browser(world.url);
    const res = await signInWithPasskey(browser, authenticator);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/settings/security', 'straight in: no /login/2fa');
    const session = await sessionOf(browser);
    assert.equal(session?.account.id, user.id);
    assert.deepEqual(session?.amr, ['hwk']);
    assert.equal(session?.authenticatedAt, clock, 'a fresh session: settings changes need no re-confirmation');
    const after = (await passkeyRows(user.id))[0]!;
    assert.equal(after.last_used_at, clock);
    assert.equal(Number(after.counter), 1);
    assert.doesNotMatch(await (await browser.get('/settings/security')).text(), />Never</);
    // A password sign-in records just that.
    assert.deepEqual((await sessionOf(user.browser))?.amr, ['pwd']);
  });

  it('signs in to an OAuth application with a passkey: the login step completes, then consent', async () => {
    const { user, authenticator } = await personWithPasskey();
    const app = await world.app(undefined, { scopes: ['read:users'] });
    const browser = new Browser(world.url);
    const started = await browser.follow(
      await browser.get(
        authorizeUrl(world.url, {
          clientId: app.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'openid read:users',
          state: 'xyz',
        }),
      ),
    );
    const loginHtml = await started.res.text();
    const action = formAction(loginHtml, '/login/passkey');
    assert.match(action, /^\/interaction\/[\w-]+\/login\/passkey$/);
    const { csrf, options: o } = await signInOptions(browser, new URL(started.url).pathname);
    const signedIn = await browser.follow(
      await browser.postForm(action, { _csrf: csrf, response: JSON.stringify(authenticator.get(o)) }),
    );
    const consentHtml = await signedIn.res.text();
    assert.equal(signedIn.res.status, 200);
    assert.match(consentHtml, /\/confirm"/, 'the consent page, no sign-in form again');
    const approved = await browser.follow(
      await browser.postForm(formAction(consentHtml, '/confirm'), { _csrf: csrfFrom(consentHtml) }),
    );
    const code = new URL(approved.url).searchParams.get('code');
    assert.ok(code, `a code in ${approved.url}`);
    const tokens = await token(world.server, app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200);
    const idToken = JSON.parse(Buffer.from(String(tokens.body['id_token']).split('.')[1]!, 'base64url').toString());
    assert.equal(idToken.sub, user.id);
    // The dashboard session begun with it says how it was signed in.
    assert.deepEqual((await sessionOf(browser))?.amr, ['hwk']);
  });

  it('removes a passkey (fresh authentication, CSRF): it can no longer sign in; the owner hears of both', async () => {
    const from = smtp.received.length;
    const { user, authenticator } = await personWithPasskey();
    const [row] = await passkeyRows(user.id);
    const csrf = csrfFrom(await (await user.browser.get('/settings/security')).text());
    const res = await user.browser.postForm(`/settings/security/passkeys/${row!.id}/remove`, { _csrf: csrf });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/settings/security?done=passkey-removed#passkeys');
    assert.deepEqual(await passkeyRows(user.id), []);
    const again = await signInWithPasskey(new Browser(world.url), authenticator);
    assert.equal(again.status, 401);
    // Sent side by side (same clock): in either order.
    assert.deepEqual((await subjectsTo(user.email, from)).sort(), ['A passkey was added', 'A passkey was removed']);
    const added = smtp.received
      .slice(from)
      .find((m) => m.envelope.to.includes(user.email) && m.parsed.subject === 'A passkey was added');
    assert.match(added!.parsed.text ?? '', /The passkey "Work laptop" can now sign in to your account/);
  });

  it('deletes the passkeys with the account', async () => {
    const { user } = await personWithPasskey();
    const admin = await world.user({ tag: 'admin', admin: true });
    await world.server.built.services.users.remove(
      sessionPrincipal({ id: admin.id, isAdmin: true }),
      user.id,
      BY_SYSTEM,
    );
    assert.deepEqual(await passkeyRows(user.id), []);
  });

  describe('attacks', () => {
    it('a replayed sign-in answer is refused: each challenge is answered once', async () => {
      const { authenticator } = await personWithPasskey();
      const browser = new Browser(world.url);
      const { csrf, options: o } = await signInOptions(browser);
      const response = JSON.stringify(authenticator.get(o));
      const first = await browser.postForm('/login/passkey', { _csrf: csrf, response });
      assert.equal(first.status, 303);
      // Someone who saw the answer (a proxy's log, a shoulder) posts it from their own browser.
      const thief = new Browser(world.url);
      const page = await (await thief.get('/login')).text();
      const replay = await thief.postForm('/login/passkey', { _csrf: csrfFrom(page), response });
      assert.equal(replay.status, 401);
      assert.equal(await sessionOf(thief), null);
    });

    it('the same browser replaying its answer is refused, though its session cookie is gone', async () => {
      const { authenticator } = await personWithPasskey();
      const browser = new Browser(world.url);
      const { csrf, options: o } = await signInOptions(browser);
      const response = JSON.stringify(authenticator.get(o));
      assert.equal((await browser.postForm('/login/passkey', { _csrf: csrf, response })).status, 303);
      browser.jar.store(new Response(null, { headers: { 'set-cookie': 'lk_session=; Max-Age=0' } }));
      const replay = await browser.postForm('/login/passkey', { _csrf: csrf, response });
      assert.equal(replay.status, 401);
      assert.equal(
        alertText(await replay.text()),
        'That passkey could not sign you in. Try again, or sign in with your password.',
      );
      assert.equal(await sessionOf(browser), null);
    });

    it('an answer to a challenge never issued, or issued to another browser, or expired, is refused', async () => {
      const { authenticator } = await personWithPasskey();
      const browser = new Browser(world.url);
      const { csrf, options: o } = await signInOptions(browser);
      // Never issued: the browser made up its own challenge.
      const madeUp = authenticator.get({ ...o, challenge: crypto.randomBytes(32).toString('base64url') });
      const refused = await browser.postForm('/login/passkey', { _csrf: csrf, response: JSON.stringify(madeUp) });
      assert.equal(refused.status, 401);
      // Issued to the victim's browser, answered from the attacker's.
      const attacker = new Browser(world.url);
      const attackerCsrf = csrfFrom(await (await attacker.get('/login')).text());
      const stolen = JSON.stringify(authenticator.get(o));
      assert.equal((await attacker.postForm('/login/passkey', { _csrf: attackerCsrf, response: stolen })).status, 401);
      // Expired: five minutes and a second later.
      const late = await signInOptions(browser);
      clock += 5 * MINUTE + 1000;
      const lateAnswer = JSON.stringify(authenticator.get(late.options));
      assert.equal((await browser.postForm('/login/passkey', { _csrf: late.csrf, response: lateAnswer })).status, 401);
      // Nothing in the form at all.
      assert.equal((await browser.postForm('/login/passkey', { _csrf: late.csrf })).status, 401);
      assert.equal(await sessionOf(browser), null);
    });

    it("account A's passkey never signs in B, whatever user handle it claims", async () => {
      const a = await personWithPasskey();
      const b = await personWithPasskey();
      const browser = new Browser(world.url);
      const { csrf, options: o } = await signInOptions(browser);
      const bHandle = b.authenticator.credentials[0]!.userHandle;
      const answer = a.authenticator.get(o, undefined, { userHandle: bHandle });
      const res = await browser.postForm('/login/passkey', { _csrf: csrf, response: JSON.stringify(answer) });
      assert.equal(res.status, 401);
      assert.equal(await sessionOf(browser), null);
      // B's credential id with A's key: the signature does not verify against B's stored key.
      const forged = {
        ...a.authenticator.credentials[0]!,
        id: b.authenticator.credentials[0]!.id,
        userHandle: bHandle,
      };
      const next = await signInOptions(browser);
      const res2 = await browser.postForm('/login/passkey', {
        _csrf: next.csrf,
        response: JSON.stringify(a.authenticator.get(next.options, forged)),
      });
      assert.equal(res2.status, 401);
      assert.equal(await sessionOf(browser), null);
    });

    it('without user verification, from another origin, or with a counter gone back: refused', async () => {
      const { user, authenticator } = await personWithPasskey();
      const [failures, successes] = [await logins('failure'), await logins('success')];
      const browser = new Browser(world.url);
      assert.equal((await signInWithPasskey(browser, authenticator, { userVerified: false })).status, 401);
      assert.equal((await signInWithPasskey(browser, authenticator, { origin: 'https://evil.example' })).status, 401);
      assert.equal((await signInWithPasskey(browser, authenticator)).status, 303);
      const cloned = await signInWithPasskey(new Browser(world.url), authenticator, { counter: 1 });
      assert.equal(cloned.status, 401, 'a counter not above the stored one: a cloned authenticator');
      assert.deepEqual([await logins('failure'), await logins('success')], [failures + 3, successes + 1]);
      // Registration likewise: no user verification, another origin.
      for (const answer of [{ userVerified: false }, { origin: 'https://evil.example' }]) {
        const res = await addPasskey(user, new SoftAuthenticator(world.url), 'Phished', answer);
        assert.equal(res.status, 400);
      }
      assert.equal((await passkeyRows(user.id)).length, 1);
    });

    it("a replayed registration answer adds nothing; nor does an answer to another account's challenge", async () => {
      const { user } = await personWithPasskey();
      const other = await world.user({ tag: 'other' });
      const { csrf, options: o } = await registrationOptions(user);
      const response = JSON.stringify(new SoftAuthenticator(world.url).create(o));
      const fields = { _csrf: csrf, name: 'Phone', response };
      assert.equal((await user.browser.postForm('/settings/security/passkeys', fields)).status, 303);
      const replay = await user.browser.postForm('/settings/security/passkeys', fields);
      assert.equal(replay.status, 400);
      assert.match(alertText(await replay.text()) ?? '', /expired or was already used/);
      // The other account posts an answer made for this account's challenge from its own browser.
      const mine = await registrationOptions(user);
      const otherCsrf = csrfFrom(await (await other.browser.get('/settings/security')).text());
      const crossed = JSON.stringify(new SoftAuthenticator(world.url).create(mine.options));
      const res = await other.browser.postForm('/settings/security/passkeys', {
        _csrf: otherCsrf,
        name: 'Crossed',
        response: crossed,
      });
      assert.equal(res.status, 400);
      assert.equal((await passkeyRows(user.id)).length, 2);
      assert.equal((await passkeyRows(other.id)).length, 0);
    });

    it("another account's passkey id on the remove route: 404, nothing removed", async () => {
      const victim = await personWithPasskey();
      const attacker = await world.user({ tag: 'attacker' });
      const [row] = await passkeyRows(victim.user.id);
      const csrf = csrfFrom(await (await attacker.browser.get('/settings/security')).text());
      const res = await attacker.browser.postForm(`/settings/security/passkeys/${row!.id}/remove`, { _csrf: csrf });
      assert.equal(res.status, 404);
      assert.equal((await passkeyRows(victim.user.id)).length, 1);
    });

    it('removing or adding without fresh authentication goes to re-confirm, and changes nothing', async () => {
      const { user } = await personWithPasskey();
      const [row] = await passkeyRows(user.id);
      const csrf = csrfFrom(await (await user.browser.get('/settings/security')).text());
      clock += 11 * MINUTE; // FRESH_AUTH_MAX_AGE is 10 minutes by default.
      const res = await user.browser.postForm(`/settings/security/passkeys/${row!.id}/remove`, { _csrf: csrf });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location')!, /^\/settings\/confirm\?return_to=/);
      const opts = await user.browser.request('/settings/security/passkeys/options', {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrf },
      });
      assert.equal(opts.status, 303, 'no registration options either (the script sends the browser to re-confirm)');
      assert.equal((await passkeyRows(user.id)).length, 1);
    });

    it('without the CSRF token nothing is added, removed or signed in', async () => {
      const { user, authenticator } = await personWithPasskey();
      const [row] = await passkeyRows(user.id);
      const remove = await user.browser.postForm(`/settings/security/passkeys/${row!.id}/remove`, {});
      assert.equal(remove.status, 403);
      const { options: o } = await registrationOptions(user);
      const response = JSON.stringify(new SoftAuthenticator(world.url).create(o));
      const add = await user.browser.postForm('/settings/security/passkeys', { name: 'Forged', response });
      assert.equal(add.status, 403);
      assert.equal((await passkeyRows(user.id)).length, 1);
      const noToken = await user.browser.request('/settings/security/passkeys/options', { method: 'POST' });
      assert.equal(noToken.status, 403);
      const browser = new Browser(world.url);
      const { options: so } = await signInOptions(browser);
      const signIn = await browser.postForm('/login/passkey', { response: JSON.stringify(authenticator.get(so)) });
      assert.equal(signIn.status, 403);
      assert.equal(await sessionOf(browser), null);
    });
  });
});
