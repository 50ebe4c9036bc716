import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, authorizeUrl, csrfFrom, formAction } from '../../../test/support/http.ts';
import { linkIn, mailboxOf, tokenOf } from '../../../test/support/mailbox.ts';
import { token } from '../../../test/support/oauth.ts';
import { PASSWORD, REDIRECT_URI, uniqueEmail, worldOn, type World } from '../../../test/support/world.ts';

// Password reset over real HTTP, with mail through a real SMTP server: asking never tells whether
// an address has an account, the link works once and for 30 minutes, a refused password leaves it
// usable, and a reset signs the account out everywhere and takes back every application's access.

const HOUR = 3_600_000;
const RESET_MAIL = 'Reset your Latchkey password';
const NEW_PASSWORD = 'a fresh tangerine umbrella';

describe('password reset', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;
  let mail: ReturnType<typeof mailboxOf>;
  let clock = Date.now();

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      // Verification not required here: the OAuth steps below use factory-made (unverified) accounts.
      env: { EMAIL_URL: smtp.url, REQUIRE_EMAIL_VERIFICATION: 'false', TRUST_PROXY: '1' },
      emailPollMs: HOUR,
      now: () => clock,
    });
    world = worldOn(server);
    mail = mailboxOf(server, smtp);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  /** "Forgot password?" for `email` from a fresh browser (at client address `ip`); the answer. */
  async function forgot(email: string, ip = '203.0.113.7', path = '/password/forgot') {
    const browser = new Browser(server.url);
    const page = await (await browser.get(path)).text();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip };
    return browser.request(formAction(page, '/password/forgot'), {
      method: 'POST',
      headers,
      body: new URLSearchParams({ _csrf: csrfFrom(page), email }).toString(),
    });
  }
  /** Asks for a link for `email` and reads it from the mail. */
  async function resetLink(email: string): Promise<string> {
    const from = mail.mark();
    assert.equal((await forgot(email)).status, 200);
    return linkIn(await mail.one(email, RESET_MAIL, from), '/password/reset');
  }
  /** Opens the link and posts a new password with its form. */
  async function setPassword(link: string, password: string, browser = new Browser(server.url)) {
    const page = await (await browser.get(link)).text();
    return browser.postForm(formAction(page, '/password/reset'), {
      _csrf: csrfFrom(page),
      token: tokenOf(link),
      new_password: password,
    });
  }
  const signsIn = async (email: string, password: string) =>
    (await server.built.services.accounts.authenticate(email, password)) !== null;

  it('answers the same page for a registered and an unknown address, and mails only the owner', async () => {
    const owner = await world.user({ tag: 'known' });
    const unknown = uniqueEmail('nobody');
    const from = mail.mark();
    const known = await forgot(owner.email);
    const stranger = await forgot(unknown);
    assert.equal(known.status, 200);
    assert.equal(stranger.status, known.status);
    const a = (await known.text()).replaceAll(owner.email, 'ADDRESS');
    const b = (await stranger.text()).replaceAll(unknown, 'ADDRESS');
    assert.equal(a, b, 'byte-identical apart from the address');
    assert.match(a, /If an account exists for <strong>ADDRESS<\/strong>, we sent it a link/);
    await mail.one(owner.email, RESET_MAIL, from);
    assert.equal((await mail.to(unknown, from)).length, 0);
  });

  it('resets with the link: form first, policy enforced, then every session and grant ends', async () => {
    const u = await world.user({ tag: 'reset' });
    const oauth = await world.oauthToken(u, ['read:users']);
    const link = await resetLink(u.email);

    // GET shows the form and uses nothing.
    const shown = await new Browser(server.url).get(link);
    assert.equal(shown.status, 200);
    assert.match(await shown.text(), /Choose a new password/);

    // A weak password is refused with the reason; the link still works.
    const weak = await setPassword(link, 'password123');
    assert.equal(weak.status, 400);
    assert.match(await weak.text(), /class="error" role="alert"[^>]*>[^<]*(common|guess|weak|at least)/i);
    assert.ok(await signsIn(u.email, PASSWORD), 'nothing changed yet');

    const from = mail.mark();
    const done = await setPassword(link, NEW_PASSWORD);
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Password changed/);
    assert.equal(await signsIn(u.email, PASSWORD), false, 'the old password no longer works');
    assert.ok(await signsIn(u.email, NEW_PASSWORD));

    // Every session ended: the dashboard session, and the application's tokens (grant revoked).
    const dashboard = await u.browser.get('/dashboard');
    assert.equal(dashboard.status, 302, 'the old dashboard session is signed out');
    const api = await world.request('GET', '/v2/auth/test', { bearer: oauth.access_token });
    assert.equal(api.status, 401, 'the access token is revoked');
    const refreshed = await token(server, oauth.app, {
      grant_type: 'refresh_token',
      refresh_token: oauth.refresh_token,
    });
    assert.equal(refreshed.status, 400, 'the refresh token is revoked');

    // The owner is told; the address is now verified (the reset proved the inbox).
    const notice = await mail.one(u.email, 'Your password was reset', from);
    assert.doesNotMatch(notice.raw, new RegExp(NEW_PASSWORD));
    assert.equal((await server.built.services.accounts.findById(u.id))!.emailVerified, true);

    // Replay of the used link.
    assert.equal((await new Browser(server.url).get(link)).status, 400);
    const b = new Browser(server.url);
    const csrf = csrfFrom(await (await b.get('/password/forgot')).text());
    const replay = await b.postForm('/password/reset', {
      _csrf: csrf,
      token: tokenOf(link),
      new_password: 'yet another long passphrase',
    });
    assert.equal(replay.status, 400);
    assert.ok(await signsIn(u.email, NEW_PASSWORD));
  });

  it('refuses an expired link (30 minutes), an older link, a made-up one and a verification link', async () => {
    const u = await world.user({ tag: 'expiry' });
    const first = await resetLink(u.email);
    const second = await resetLink(u.email);
    assert.equal((await new Browser(server.url).get(first)).status, 400, 'a newer link retires the older');

    const saved = clock;
    clock += 30 * 60_000 + 1;
    try {
      const expired = await new Browser(server.url).get(second);
      assert.equal(expired.status, 400);
      assert.match(await expired.text(), /Ask for a new link/);
    } finally {
      clock = saved;
    }
    for (const bogus of ['', 'short', 'A'.repeat(43)]) {
      assert.equal((await new Browser(server.url).get(`/password/reset?token=${bogus}`)).status, 400, bogus);
    }
    const verifyToken = await server.built.services.emailLinks.issue(u.id, 'verify_email', u.email);
    assert.equal((await new Browser(server.url).get(`/password/reset?token=${verifyToken}`)).status, 400);
    const browser = new Browser(server.url);
    const csrf = csrfFrom(await (await browser.get('/password/forgot')).text());
    const other = await browser.postForm('/password/reset', {
      _csrf: csrf,
      token: verifyToken,
      new_password: NEW_PASSWORD,
    });
    assert.equal(other.status, 400);
    assert.ok(await signsIn(u.email, PASSWORD));
  });

  it("resets the link's own account, whichever account the browser is signed in as", async () => {
    const victim = await world.user({ tag: 'linkowner' });
    const attacker = await world.user({ tag: 'signedin' });
    const link = await resetLink(victim.email);
    const done = await setPassword(link, NEW_PASSWORD, attacker.browser);
    assert.equal(done.status, 200);
    assert.ok(await signsIn(victim.email, NEW_PASSWORD));
    assert.ok(await signsIn(attacker.email, PASSWORD), "the browser's own account is untouched");
  });

  it('lets exactly one of several simultaneous uses of a link set a password', async () => {
    const u = await world.user({ tag: 'race' });
    const link = await resetLink(u.email);
    const forms = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const b = new Browser(server.url);
        return { b, csrf: csrfFrom(await (await b.get(link)).text()), password: `${NEW_PASSWORD} number ${i}` };
      }),
    );
    const answers = await Promise.all(
      forms.map(({ b, csrf, password }) =>
        b.postForm('/password/reset', { _csrf: csrf, token: tokenOf(link), new_password: password }),
      ),
    );
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400, 400]);
    const winner = forms[answers.findIndex((r) => r.status === 200)]!;
    assert.ok(await signsIn(u.email, winner.password), "the winner's password is the one set");
  });

  it('refuses a form without the CSRF token (no mail, and the link stays usable)', async () => {
    const u = await world.user({ tag: 'csrf' });
    const from = mail.mark();
    const browser = new Browser(server.url);
    await browser.get('/password/forgot');
    assert.equal((await browser.postForm('/password/forgot', { email: u.email })).status, 403);
    assert.equal((await mail.to(u.email, from)).length, 0);

    const link = await resetLink(u.email);
    await browser.get(link);
    const forged = await browser.postForm('/password/reset', { token: tokenOf(link), new_password: NEW_PASSWORD });
    assert.equal(forged.status, 403);
    assert.ok(await signsIn(u.email, PASSWORD));
    assert.equal((await browser.get(link)).status, 200, 'still usable');
  });

  it('offers "Forgot password?" on the application sign-in, and leads back to it after the reset', async () => {
    const u = await world.user({ tag: 'oauthreset' });
    const app = await world.app(undefined, { scopes: ['read:users'] });
    const browser = new Browser(server.url);
    const start = authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users' });
    const { res, url } = await browser.follow(await browser.get(start));
    const uid = /\/interaction\/([^/?]+)/.exec(url)![1]!;
    const login = await res.text();
    const forgotHref = /href="(\/password\/forgot[^"]*)"/.exec(login)![1]!.replace(/&amp;/g, '&');
    assert.equal(forgotHref, `/password/forgot?return_to=${encodeURIComponent(`/interaction/${uid}`)}`);

    const from = mail.mark();
    const page = await (await browser.get(forgotHref)).text();
    await browser.postForm(formAction(page, '/password/forgot'), { _csrf: csrfFrom(page), email: u.email });
    const link = linkIn(await mail.one(u.email, RESET_MAIL, from), '/password/reset');
    assert.equal(new URL(link, server.url).searchParams.get('return_to'), `/interaction/${uid}`);
    const done = await setPassword(link, NEW_PASSWORD, browser);
    const html = await done.text();
    assert.match(html, new RegExp(`href="/interaction/${uid}"`));

    // Back at the application's sign-in, the new password finishes it.
    const again = await (await browser.get(`/interaction/${uid}`)).text();
    const signedIn = await browser.follow(
      await browser.postForm(formAction(again, '/login'), {
        _csrf: csrfFrom(again),
        email: u.email,
        password: NEW_PASSWORD,
      }),
    );
    const consent = await signedIn.res.text();
    const approved = await browser.follow(
      await browser.postForm(formAction(consent, '/confirm'), { _csrf: csrfFrom(consent) }),
    );
    assert.ok(new URL(approved.url).searchParams.get('code'), `a code: ${approved.url}`);
  });

  it('never sends a return path off the site', async () => {
    const page = await (await new Browser(server.url).get('/password/forgot?return_to=//evil.example/x')).text();
    assert.doesNotMatch(page, /evil\.example/);
  });
});

describe('password reset: rate limited per address asked about and per client address', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;
  let clock = Date.now();

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      env: { EMAIL_URL: smtp.url, TRUST_PROXY: '1', RATE_LIMIT_PASSWORD_RESET: '2,100' },
      emailPollMs: HOUR,
      now: () => clock,
    });
    world = worldOn(server);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  async function forgot(email: string, ip: string) {
    const browser = new Browser(server.url);
    const page = await (await browser.get('/password/forgot')).text();
    const res = await browser.request('/password/forgot', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
      body: new URLSearchParams({ _csrf: csrfFrom(page), email }).toString(),
    });
    return { status: res.status, body: (await res.text()).replaceAll(email, 'ADDRESS') };
  }

  it('over the limit answers the same page and queues no mail', async () => {
    const mail = mailboxOf(server, smtp);
    const u = await world.user({ tag: 'limited' });
    const from = mail.mark();
    // Per address: the third request for the same account, from three different client addresses.
    const answers = [];
    for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) answers.push(await forgot(u.email, ip));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    assert.equal(answers[2]!.body, answers[0]!.body, 'the refused request looks like the others');
    assert.equal((await mail.to(u.email, from)).length, 2);

    // Per client address: three different accounts from one address.
    clock += HOUR;
    const others = [
      await world.user({ tag: 'ip1' }),
      await world.user({ tag: 'ip2' }),
      await world.user({ tag: 'ip3' }),
    ];
    const mark = mail.mark();
    for (const o of others) assert.equal((await forgot(o.email, '192.0.2.99')).status, 200);
    const mailed = await Promise.all(others.map(async (o) => (await mail.to(o.email, mark)).length));
    assert.deepEqual(mailed, [1, 1, 0]);

    // An hour later the address may ask again.
    clock += HOUR;
    await forgot(u.email, '198.51.100.9');
    assert.equal((await mail.to(u.email, from)).length, 3);
  });
});
