// The audit trail of signing in, on every path (the dashboard's form, the OAuth login form, the
// second factor, passkeys): each attempt that was checked leaves one `sign_in.*` record naming the
// person signing in (or nobody, for an unknown email), why it failed, and the request it came in;
// a throttled attempt leaves none; a disabled account is refused once its credential is right.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { startWorld, REDIRECT_URI, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { authorizeUrl, Browser, csrfFrom, formAction } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import { SoftAuthenticator } from '../../../test/support/soft-authenticator.ts';
import type { AuditEntry } from '../../domain/audit.ts';
import { ACCOUNT_DISABLED_MESSAGE } from '../../domain/account.ts';

const HOUR = 3_600_000;
let sent = 0;

describe('audit trail: signing in', () => {
  let clock = Date.UTC(2026, 11, 1, 12, 0, 0);
  let world: TestWorld;
  before(async () => {
    world = await startWorld({ now: () => clock, env: { REQUIRE_EMAIL_VERIFICATION: 'false' } });
  });
  after(() => world.close());

  /** Every test starts an hour on: the sign-in throttle of earlier tests is behind it. */
  const nextHour = () => (clock += HOUR);

  /** The request facts a test sends (X-Request-ID, and the client address through the trusted proxy). */
  const factsOf = () => ({ requestId: `sign-in-${++sent}`, ip: `203.0.113.${sent % 250}` });
  type Facts = ReturnType<typeof factsOf>;

  /** Posts the form of `page` to `action` (or the page's form posting to `needle`) with the request facts. */
  async function postWith(browser: Browser, html: string, action: string, fields: Record<string, string>, f: Facts) {
    return browser.request(action, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'X-Request-ID': f.requestId,
        'X-Forwarded-For': f.ip,
      },
      body: new URLSearchParams({ _csrf: csrfFrom(html), ...fields }).toString(),
    });
  }
  const loginAt = async (browser: Browser, fields: Record<string, string>, f: Facts) =>
    postWith(browser, await (await browser.get('/login')).text(), '/login', fields, f);

  /** The trail's records made by the request `requestId`, oldest first. */
  const recordsOf = async (requestId: string): Promise<AuditEntry[]> =>
    (await world.server.built.services.auditLog.list({}, { limit: 500 }))
      .filter((e) => e.requestId === requestId)
      .reverse();
  const signInCount = async (id: string) =>
    (await world.server.db.selectFrom('users').select('sign_in_count').where('id', '=', id).executeTakeFirstOrThrow())
      .sign_in_count;
  const actorOf = (u: TestUser) => ({ type: 'user', id: u.id, accountId: u.id, label: u.email });
  const disable = (id: string) =>
    world.server.db.updateTable('users').set({ disabled_at: clock }).where('id', '=', id).execute();

  it('a dashboard sign-in names the account as actor, its method and amr, and the request', async () => {
    nextHour();
    const u = await world.user({ tag: 'in' });
    const f = factsOf();
    const res = await loginAt(new Browser(world.url), { email: u.email, password: u.password }, f);
    assert.equal(res.status, 303);
    const [entry, ...rest] = await recordsOf(f.requestId);
    assert.equal(rest.length, 0, 'one record');
    assert.ok(entry);
    assert.equal(entry.type, 'sign_in.succeeded');
    assert.deepEqual(entry.actor, actorOf(u));
    assert.equal(entry.accountId, u.id);
    assert.deepEqual(entry.target, { type: 'account', id: u.id });
    assert.equal(entry.ip, f.ip);
    assert.deepEqual(entry.data, { method: 'password', amr: ['pwd'] });
  });

  it('a wrong password is recorded by the account; an unknown email is anonymous, as typed', async () => {
    nextHour();
    const u = await world.user({ tag: 'wrong' });
    const wrong = factsOf();
    assert.equal((await loginAt(new Browser(world.url), { email: u.email, password: 'not it' }, wrong)).status, 401);
    const [failed] = await recordsOf(wrong.requestId);
    assert.equal(failed?.type, 'sign_in.failed');
    assert.deepEqual(failed.actor, actorOf(u));
    assert.equal(failed.accountId, u.id);
    assert.equal(failed.ip, wrong.ip);
    assert.deepEqual(failed.data, { method: 'password', reason: 'wrong_password' });

    const unknown = factsOf();
    const typed = `  Nobody-${sent}@Example.com`;
    assert.equal((await loginAt(new Browser(world.url), { email: typed, password: 'whatever' }, unknown)).status, 401);
    const [anon] = await recordsOf(unknown.requestId);
    assert.equal(anon?.type, 'sign_in.failed');
    assert.deepEqual(anon.actor, { type: 'anonymous', id: null, accountId: null, label: null });
    assert.equal(anon.accountId, null);
    assert.equal(anon.target, null);
    assert.deepEqual(anon.data, { method: 'password', reason: 'unknown_account', email: typed });

    // Capped: a pasted novel is not kept whole.
    const long = factsOf();
    await loginAt(new Browser(world.url), { email: 'x'.repeat(5000), password: 'whatever' }, long);
    const [capped] = await recordsOf(long.requestId);
    assert.equal(String(capped?.data['email']).length, 254);
  });

  it('throttled attempts (429) are not recorded: only the checked ones are', async () => {
    nextHour();
    const u = await world.user({ tag: 'flood' });
    const answers: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const f = factsOf();
      ids.push(f.requestId);
      answers.push((await loginAt(new Browser(world.url), { email: u.email, password: `guess ${i}` }, f)).status);
    }
    assert.deepEqual(answers, [401, 401, 401, 429, 429, 429]);
    const recorded = await Promise.all(ids.map(async (id) => (await recordsOf(id)).length));
    assert.deepEqual(recorded, [1, 1, 1, 0, 0, 0]);
  });

  it('a disabled account is refused with the right password, said plainly; a wrong one says nothing', async () => {
    nextHour();
    const u = await world.user({ tag: 'disabled' });
    await disable(u.id);
    const wrong = factsOf();
    const refusedWrong = await loginAt(new Browser(world.url), { email: u.email, password: 'not it' }, wrong);
    assert.equal(refusedWrong.status, 401);
    assert.doesNotMatch(await refusedWrong.text(), /This account is disabled/);
    assert.equal((await recordsOf(wrong.requestId))[0]?.data['reason'], 'wrong_password');

    const right = factsOf();
    const before = await signInCount(u.id);
    const refused = await loginAt(new Browser(world.url), { email: u.email, password: u.password }, right);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), new RegExp(ACCOUNT_DISABLED_MESSAGE.replace('.', '\\.')));
    assert.equal(refused.headers.get('set-cookie')?.includes('lk_session=') ?? false, false, 'no session');
    assert.equal(await signInCount(u.id), before);
    const [entry] = await recordsOf(right.requestId);
    assert.equal(entry?.type, 'sign_in.failed');
    assert.deepEqual(entry.actor, actorOf(u));
    assert.deepEqual(entry.data, { method: 'password', reason: 'account_disabled' });
  });

  it('the second factor: a wrong code, then a TOTP code, then a recovery code, each recorded', async () => {
    nextHour();
    const u = await world.user({ tag: '2fa', twoFactor: true });
    clock += 60_000; // the enrolment's code step is spent: a later one signs in
    const browser = new Browser(world.url);
    const pw = factsOf();
    const toCode = await loginAt(browser, { email: u.email, password: u.password }, pw);
    assert.equal(toCode.status, 303);
    assert.deepEqual(await recordsOf(pw.requestId), [], 'the password step alone records nothing');

    const codePage = async () => (await browser.get('/login/2fa')).text();
    const bad = factsOf();
    assert.equal((await postWith(browser, await codePage(), '/login/2fa', { code: '000000' }, bad)).status, 401);
    const badRecords = await recordsOf(bad.requestId);
    assert.deepEqual(
      badRecords.map((e) => [e.type, e.data]),
      [
        ['second_factor.failed', { method: 'totp' }],
        ['sign_in.failed', { method: 'password', reason: 'wrong_second_factor', second_factor: 'totp' }],
      ],
    );
    assert.ok(badRecords.every((e) => e.actor.id === u.id && e.accountId === u.id && e.ip === bad.ip));

    const good = factsOf();
    assert.equal((await postWith(browser, await codePage(), '/login/2fa', { code: u.totp() }, good)).status, 303);
    assert.deepEqual(
      (await recordsOf(good.requestId)).map((e) => [e.type, e.data]),
      [
        ['second_factor.succeeded', { method: 'totp' }],
        ['sign_in.succeeded', { method: 'password', amr: ['pwd', 'otp'] }],
      ],
    );

    const other = new Browser(world.url);
    assert.equal((await loginAt(other, { email: u.email, password: u.password }, factsOf())).status, 303);
    const recovery = factsOf();
    const page = await (await other.get('/login/2fa')).text();
    assert.equal((await postWith(other, page, '/login/2fa', { code: u.recoveryCodes[0]! }, recovery)).status, 303);
    assert.deepEqual((await recordsOf(recovery.requestId))[0]?.data, { method: 'recovery_code' });
  });

  it('an account disabled between the password and the code is refused at the code', async () => {
    nextHour();
    const u = await world.user({ tag: '2fa-off', twoFactor: true });
    clock += 60_000; // the enrolment's code step is spent: a later one signs in
    const browser = new Browser(world.url);
    assert.equal((await loginAt(browser, { email: u.email, password: u.password }, factsOf())).status, 303);
    await disable(u.id);
    const f = factsOf();
    const res = await postWith(
      browser,
      await (await browser.get('/login/2fa')).text(),
      '/login/2fa',
      { code: u.totp() },
      f,
    );
    assert.equal(res.status, 403);
    assert.match(await res.text(), /This account is disabled/);
    assert.deepEqual(
      (await recordsOf(f.requestId)).map((e) => [e.type, e.data['reason']]),
      [
        ['second_factor.succeeded', undefined],
        ['sign_in.failed', 'account_disabled'],
      ],
    );
  });

  it('the OAuth login form records the same: failures, a disabled account, and the sign-in', async () => {
    nextHour();
    const dev = await world.user({ tag: 'dev' });
    const app = await world.app(dev, { scopes: ['read:users'] });
    const u = await world.user({ tag: 'oauth' });
    const browser = new Browser(world.url);
    const start = authorizeUrl(world.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'openid' });
    const loginForm = async () => {
      const html = await (await browser.follow(await browser.get(start))).res.text();
      return { html, action: formAction(html, '/login') };
    };
    let form = await loginForm();
    const wrong = factsOf();
    assert.equal(
      (await postWith(browser, form.html, form.action, { email: u.email, password: 'no' }, wrong)).status,
      401,
    );
    assert.equal((await recordsOf(wrong.requestId))[0]?.data['reason'], 'wrong_password');

    await disable(u.id);
    form = await loginForm();
    const off = factsOf();
    const refused = await postWith(browser, form.html, form.action, { email: u.email, password: u.password }, off);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /This account is disabled/);
    assert.equal((await recordsOf(off.requestId))[0]?.data['reason'], 'account_disabled');

    await world.server.db.updateTable('users').set({ disabled_at: null }).where('id', '=', u.id).execute();
    form = await loginForm();
    const ok = factsOf();
    const signedIn = await postWith(browser, form.html, form.action, { email: u.email, password: u.password }, ok);
    assert.ok(signedIn.status === 303 || signedIn.status === 302, `status ${signedIn.status}`);
    const [entry] = await recordsOf(ok.requestId);
    assert.equal(entry?.type, 'sign_in.succeeded');
    assert.deepEqual(entry.actor, actorOf(u));
    assert.equal(entry.ip, ok.ip);
    assert.deepEqual(entry.data, { method: 'password', amr: ['pwd'] });
  });

  describe('passkeys', () => {
    /** A person with a passkey added through Settings → Security. */
    async function personWithPasskey() {
      const user = await world.user({ tag: 'pk' });
      const authenticator = new SoftAuthenticator(world.url);
      const page = await (await user.browser.get('/settings/security')).text();
      const csrf = csrfFrom(page);
      const opts = await user.browser.request('/settings/security/passkeys/options', {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrf },
      });
      const response = JSON.stringify(authenticator.create(await opts.json()));
      const added = await user.browser.postForm('/settings/security/passkeys', {
        _csrf: csrf,
        name: 'Laptop',
        response,
      });
      assert.equal(added.status, 303);
      return { user, authenticator };
    }
    async function signInWithPasskey(authenticator: SoftAuthenticator, f: Facts) {
      const browser = new Browser(world.url);
      const html = await (await browser.get('/login')).text();
      const opts = await browser.request('/login/passkey/options', {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrfFrom(html) },
      });
      const o = (await opts.json()) as PublicKeyCredentialRequestOptionsJSON;
      return postWith(browser, html, '/login/passkey', { response: JSON.stringify(authenticator.get(o)) }, f);
    }

    it('a passkey sign-in is recorded with method passkey and amr hwk', async () => {
      nextHour();
      const { user, authenticator } = await personWithPasskey();
      const f = factsOf();
      assert.equal((await signInWithPasskey(authenticator, f)).status, 303);
      const [entry] = await recordsOf(f.requestId);
      assert.equal(entry?.type, 'sign_in.succeeded');
      assert.deepEqual(entry.actor, actorOf(user));
      assert.equal(entry.ip, f.ip);
      assert.equal(entry.data['method'], 'passkey');
      assert.deepEqual(entry.data['amr'], ['hwk']);
    });

    it('a disabled account is refused with its passkey, said plainly; an unknown passkey is anonymous', async () => {
      nextHour();
      const { user, authenticator } = await personWithPasskey();
      await disable(user.id);
      const off = factsOf();
      const refused = await signInWithPasskey(authenticator, off);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /This account is disabled/);
      const [entry] = await recordsOf(off.requestId);
      assert.deepEqual(
        [entry?.type, entry?.data],
        ['sign_in.failed', { method: 'passkey', reason: 'account_disabled' }],
      );
      assert.deepEqual(entry?.actor, actorOf(user));

      await world.server.db.deleteFrom('passkeys').where('user_id', '=', user.id).execute();
      const gone = factsOf();
      assert.equal((await signInWithPasskey(authenticator, gone)).status, 401);
      const [anon] = await recordsOf(gone.requestId);
      assert.deepEqual([anon?.type, anon?.data], ['sign_in.failed', { method: 'passkey', reason: 'unknown_passkey' }]);
      assert.equal(anon?.actor.type, 'anonymous');
      assert.equal(anon?.accountId, null);
    });
  });

  it('is written with the sign-in: when that fails, no sign-in is counted and nothing is recorded', async () => {
    nextHour();
    const u = await world.user({ tag: 'rollback' });
    const before = await signInCount(u.id);
    const f = factsOf();
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const res = await loginAt(new Browser(world.url), { email: u.email, password: u.password }, f);
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal(await signInCount(u.id), before);
    assert.deepEqual(await recordsOf(f.requestId), []);
  });
});
