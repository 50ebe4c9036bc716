import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, csrfFrom, registerApp } from '../../../test/support/http.ts';
import { signIn } from '../../../test/support/api.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const PASSWORD = 'two factor passphrase';

describe('TOTP two-factor authentication', () => {
  let clock = T0;
  let server: TestServer;
  let browser: Browser;
  let secret: string;
  let recoveryCodes: string[];
  const email = 'tf@example.com';
  const code = (at = clock) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: at });

  before(async () => {
    server = await startTestServer({ now: () => clock });
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    browser = new Browser(server.url);
    assert.equal((await signIn(browser, email, PASSWORD)).status, 303);
  });
  after(() => server.dispose());

  const post = async (path: string, fields: Record<string, string> = {}) => {
    const page = await (await browser.get('/settings/security')).text();
    return browser.postForm(path, { _csrf: csrfFrom(page), ...fields });
  };

  it('enrols: QR code and text secret, a wrong code refused, a right one gives ten recovery codes once', async () => {
    const enroll = await post('/settings/security/2fa/begin');
    assert.equal(enroll.status, 200);
    assert.equal(enroll.headers.get('cache-control'), 'no-store');
    const html = await enroll.text();
    assert.match(html, /<svg/);
    secret = /id="totp-secret">([A-Z2-7]+)</.exec(html)![1]!;

    const wrong = await post('/settings/security/2fa/confirm', { code: '000000' === code() ? '111111' : '000000' });
    assert.equal(wrong.status, 400);

    const ok = await post('/settings/security/2fa/confirm', { code: code() });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/settings/security/2fa/recovery-codes');
    const shown = await browser.get('/settings/security/2fa/recovery-codes');
    assert.equal(shown.headers.get('cache-control'), 'no-store');
    recoveryCodes = [...(await shown.text()).matchAll(/<li><code>([A-Z0-9-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(recoveryCodes.length, 10);
    assert.equal(new Set(recoveryCodes).size, 10);
    assert.match(await (await browser.get('/settings/security')).text(), /10 unused recovery codes left/);
  });

  it('keeps the TOTP secret encrypted and the recovery codes hashed at rest', async () => {
    const values = (await dumpDatabase(server.db)).map((v) => v.value).join('\n');
    assert.ok(!values.includes(secret), 'TOTP secret not in the database');
    for (const c of recoveryCodes)
      assert.ok(!values.includes(c) && !values.includes(c.replaceAll('-', '')), 'recovery code not in the database');
  });

  it('asks for the code after the password, refuses a replayed code, and takes a fresh one', async () => {
    clock += 60_000;
    const b = new Browser(server.url);
    const res = await signIn(b, email, PASSWORD, '/settings/security');
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login/2fa?return_to=%2Fsettings%2Fsecurity');
    assert.equal(b.jar.get('lk_session'), undefined, 'no session before the second factor');
    const page = await (await b.get('/login/2fa?return_to=%2Fsettings%2Fsecurity')).text();
    const first = code();
    const ok = await b.postForm('/login/2fa?return_to=%2Fsettings%2Fsecurity', { _csrf: csrfFrom(page), code: first });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/settings/security');

    // The same code again, in another browser within the same 30 s: refused.
    const other = new Browser(server.url);
    await signIn(other, email, PASSWORD);
    const page2 = await (await other.get('/login/2fa')).text();
    const replay = await other.postForm('/login/2fa', { _csrf: csrfFrom(page2), code: first });
    assert.equal(replay.status, 401);
    assert.match(await replay.text(), /That code is not valid/);
    clock += 30_000;
    const fresh = await other.postForm('/login/2fa', { _csrf: csrfFrom(page2), code: code() });
    assert.equal(fresh.status, 303);
  });

  it('takes each recovery code once', async () => {
    for (const expected of [303, 401]) {
      const b = new Browser(server.url);
      await signIn(b, email, PASSWORD);
      const page = await (await b.get('/login/2fa')).text();
      const res = await b.postForm('/login/2fa', { _csrf: csrfFrom(page), code: recoveryCodes[0]!.toLowerCase() });
      assert.equal(res.status, expected);
    }
  });

  it('backs off after wrong codes', async () => {
    clock += 3_600_000;
    const b = new Browser(server.url);
    await signIn(b, email, PASSWORD);
    const page = await (await b.get('/login/2fa')).text();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await b.postForm('/login/2fa', { _csrf: csrfFrom(page), code: '12345' })).status);
    assert.deepEqual(statuses, [401, 401, 401, 429, 429], 'three checked a minute; then refused unchecked');
    clock += 60_000;
    assert.equal((await b.postForm('/login/2fa', { _csrf: csrfFrom(page), code: code() })).status, 303);
  });

  it('asks for the code on the OAuth login page too', async () => {
    clock += 120_000;
    const dev = new Browser(server.url);
    await server.built.services.accounts.signUp({ email: 'dev2@example.com', password: PASSWORD }, BY_SYSTEM);
    await signIn(dev, 'dev2@example.com', PASSWORD);
    const app = await registerApp(dev, {
      name: 'TF app',
      redirect_uris: ['https://tf.example/cb'],
      scopes: ['read:users'],
    });
    const person = new Browser(server.url);
    const start = await person.follow(
      await person.get(
        `/oauth/authorize?client_id=${app.client_id}` +
          `&redirect_uri=${encodeURIComponent('https://tf.example/cb')}&response_type=code&scope=read:users&state=s1`,
      ),
    );
    const loginHtml = await start.res.text();
    const uid = /\/interaction\/([^/]+)\/login/.exec(loginHtml)![1]!;
    const second = await person.postForm(`/interaction/${uid}/login`, {
      _csrf: csrfFrom(loginHtml),
      email,
      password: PASSWORD,
    });
    assert.equal(second.status, 200);
    const secondHtml = await second.text();
    assert.match(secondHtml, /Two-factor authentication/);
    const wrong = await person.postForm(`/interaction/${uid}/2fa`, {
      _csrf: csrfFrom(secondHtml),
      code: '000000' === code() ? '111111' : '000000',
    });
    assert.equal(wrong.status, 401);
    const done = await person.follow(
      await person.postForm(`/interaction/${uid}/2fa`, { _csrf: csrfFrom(secondHtml), code: code() }),
    );
    assert.match(await done.res.text(), /wants to access your account/);
  });

  it('turns off only with the password and a code, after confirming access (sudo mode)', async () => {
    clock += 30_000;
    const stale = await post('/settings/security/2fa/disable', { password: PASSWORD, code: code() });
    assert.equal(stale.status, 303, 'signed in long ago: confirm first');
    const confirmPage = await (await browser.get(stale.headers.get('location')!)).text();
    assert.equal(
      (await browser.postForm(stale.headers.get('location')!, { _csrf: csrfFrom(confirmPage), code: code() })).status,
      303,
    );
    clock += 30_000;
    assert.equal((await post('/settings/security/2fa/disable', { password: 'wrong', code: code() })).status, 400);
    assert.equal((await post('/settings/security/2fa/disable', { password: PASSWORD, code: '12' })).status, 400);
    clock += 30_000;
    const off = await post('/settings/security/2fa/disable', { password: PASSWORD, code: code() });
    assert.equal(off.status, 200);
    const b = new Browser(server.url);
    const res = await signIn(b, email, PASSWORD);
    assert.equal(res.headers.get('location'), '/dashboard', 'no second step any more');
  });

  it('changes the password and signs other sessions out', async () => {
    const other = new Browser(server.url);
    await signIn(other, email, PASSWORD);
    assert.equal(
      (await post('/settings/security/password', { current_password: 'nope', new_password: 'a new passphrase' }))
        .status,
      400,
    );
    assert.equal(
      (await post('/settings/security/password', { current_password: PASSWORD, new_password: 'a new passphrase' }))
        .status,
      200,
    );
    assert.equal((await other.get('/settings/security')).status, 302, 'the other session is gone');
    assert.equal((await browser.get('/settings/security')).status, 200, 'this session stays');
    assert.equal((await signIn(new Browser(server.url), email, 'a new passphrase')).status, 303);
  });
});
