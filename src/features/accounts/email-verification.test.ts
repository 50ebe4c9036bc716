import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, authorizeUrl, csrfFrom, formAction } from '../../../test/support/http.ts';
import { linkIn, mailboxOf, tokenOf } from '../../../test/support/mailbox.ts';
import { token } from '../../../test/support/oauth.ts';
import { PASSWORD, REDIRECT_URI, uniqueEmail, worldOn, type World } from '../../../test/support/world.ts';

// Email verification over real HTTP, with mail through a real SMTP server: sign-up tells nobody
// but the address's owner whether it had an account, the link works once and only by its POST,
// and an unverified account cannot sign in to an application when the server requires it.

const HOUR = 3_600_000;
const VERIFY_MAIL = 'Confirm your email address for Latchkey';
const EXISTING_MAIL = 'Someone tried to sign up to Latchkey with your address';

async function signUpForm(browser: Browser, email: string, password = PASSWORD) {
  const page = await (await browser.get('/signup')).text();
  return browser.postForm('/signup', { _csrf: csrfFrom(page), email, password, name: '' });
}

const idTokenClaims = (idToken: string) =>
  JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('email verification (verification required: EMAIL_URL is set)', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;
  let mail: ReturnType<typeof mailboxOf>;
  let clock = Date.now();

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({ env: { EMAIL_URL: smtp.url }, emailPollMs: HOUR, now: () => clock });
    world = worldOn(server);
    mail = mailboxOf(server, smtp);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  /** Signs up through the form and answers the link its verification mail carries. */
  async function signedUp(label: string) {
    const email = uniqueEmail(label);
    const from = mail.mark();
    const res = await signUpForm(new Browser(server.url), email);
    assert.equal(res.status, 200);
    const link = linkIn(await mail.one(email, VERIFY_MAIL, from), '/verify-email');
    const account = (await server.built.services.accounts.findByEmail(email))!;
    return { email, link, account };
  }
  const verified = async (email: string) => (await server.built.services.accounts.findByEmail(email))!.emailVerified;

  it('answers sign-up with the same page for a new and a registered address, and changes no account', async () => {
    const owner = await world.user({ tag: 'owner' });
    const fresh = uniqueEmail('fresh');
    const from = mail.mark();
    const existingAnswer = await signUpForm(new Browser(server.url), owner.email, 'another long passphrase here');
    const newAnswer = await signUpForm(new Browser(server.url), fresh, 'another long passphrase here');
    assert.equal(existingAnswer.status, 200);
    assert.equal(newAnswer.status, existingAnswer.status);
    const a = (await existingAnswer.text()).replaceAll(owner.email, 'ADDRESS');
    const b = (await newAnswer.text()).replaceAll(fresh, 'ADDRESS');
    assert.equal(a, b, 'byte-identical apart from the address');
    assert.match(a, /Check your inbox/);

    // The owner hears of it, with a sign-in and a reset link; the account keeps its password.
    const notice = await mail.one(owner.email, EXISTING_MAIL, from);
    assert.match(notice.parsed.text ?? '', new RegExp(`${server.config.ISSUER}/login`));
    assert.match(notice.parsed.text ?? '', new RegExp(`${server.config.ISSUER}/password/forgot`));
    assert.equal((await mail.to(owner.email, from)).length, 1, 'no verification link for an existing account');
    const svc = server.built.services.accounts;
    assert.ok(await svc.authenticate(owner.email, PASSWORD), 'the old password still works');
    assert.equal(await svc.authenticate(owner.email, 'another long passphrase here'), null);
    // The new address gets its link; sign-up signed nobody in.
    await mail.one(fresh, VERIFY_MAIL, from);
    assert.equal(await verified(fresh), false);
  });

  it('does not sign in at sign-up', async () => {
    const browser = new Browser(server.url);
    await signUpForm(browser, uniqueEmail('nosession'));
    const dashboard = await browser.get('/dashboard');
    assert.equal(dashboard.status, 302);
    assert.match(dashboard.headers.get('location') ?? '', /^\/login/);
  });

  it('verifies only by the POST behind the button (a prefetch of the link uses nothing), once', async () => {
    const { email, link } = await signedUp('verify');
    const browser = new Browser(server.url);
    for (let i = 0; i < 2; i++) {
      const shown = await browser.get(link);
      assert.equal(shown.status, 200);
      assert.match(await shown.text(), /Confirm my email address/);
    }
    assert.equal(await verified(email), false, 'GET changes nothing');
    const page = await (await browser.get(link)).text();
    const done = await browser.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(link) });
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your email address is confirmed/);
    assert.equal(await verified(email), true);

    // Replay: the used link is refused, by GET and by POST.
    const again = await browser.get(link);
    assert.equal(again.status, 400);
    assert.match(await again.text(), /This link cannot be used/);
    const replay = await browser.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(link) });
    assert.equal(replay.status, 400);
  });

  it('refuses a POST without the CSRF token, and the link stays usable', async () => {
    const { email, link } = await signedUp('csrf');
    const browser = new Browser(server.url);
    await browser.get(link);
    const forged = await browser.postForm('/verify-email', { token: tokenOf(link) });
    assert.equal(forged.status, 403);
    assert.equal(await verified(email), false);
    assert.equal((await browser.get(link)).status, 200, 'still usable');
  });

  it('refuses an expired link, a made-up one and a reset link; offers a signed-in person a new one', async () => {
    const { email, link } = await signedUp('expired');
    const saved = clock;
    clock += 24 * HOUR + 1;
    try {
      const browser = new Browser(server.url);
      const expired = await browser.get(link);
      assert.equal(expired.status, 400);
      const html = await expired.text();
      assert.match(html, /Sign in to get a new link/);
      const csrf = csrfFrom(await (await browser.get('/login')).text());
      const post = await browser.postForm('/verify-email', { _csrf: csrf, token: tokenOf(link) });
      assert.equal(post.status, 400);
      // Signed in, the same page offers to send a new link.
      const u = await world.user({ tag: 'signedin' });
      assert.match(await (await u.browser.get(link)).text(), /Send a new link/);
    } finally {
      clock = saved;
    }
    assert.equal(await verified(email), false);

    for (const bogus of ['', 'x', 'A'.repeat(43), `${tokenOf(link)}A`]) {
      assert.equal((await new Browser(server.url).get(`/verify-email?token=${bogus}`)).status, 400, bogus);
    }
    // A reset link (another purpose) of the same account verifies nothing.
    const resetToken = await server.built.services.emailLinks.issue(
      (await server.built.services.accounts.findByEmail(email))!.id,
      'reset_password',
      email,
    );
    assert.equal((await new Browser(server.url).get(`/verify-email?token=${resetToken}`)).status, 400);
    assert.equal(await verified(email), false);
  });

  it("verifies the link's own account, never the account of the browser that opens it", async () => {
    const a = await signedUp('owner-a');
    const b = await world.user({ tag: 'session-b' });
    const page = await (await b.browser.get(a.link)).text();
    const done = await b.browser.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(a.link) });
    assert.equal(done.status, 200);
    assert.equal(await verified(a.email), true);
    assert.equal(await verified(b.email), false);
  });

  it('lets exactly one of several simultaneous uses of a link win', async () => {
    const { link } = await signedUp('race');
    const browsers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const b = new Browser(server.url);
        return { b, csrf: csrfFrom(await (await b.get(link)).text()) };
      }),
    );
    const answers = await Promise.all(
      browsers.map(({ b, csrf }) => b.postForm('/verify-email', { _csrf: csrf, token: tokenOf(link) })),
    );
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 400, 400, 400, 400, 400]);
  });

  it('shows unverified accounts a banner: "Resend the link" mails a new one (the old retired), limited', async () => {
    const { email, link } = await signedUp('resend');
    const browser = new Browser(server.url);
    const login = await (await browser.get('/login')).text();
    assert.equal((await browser.postForm('/login', { _csrf: csrfFrom(login), email, password: PASSWORD })).status, 303);
    const dashboard = await (await browser.get('/dashboard')).text();
    assert.match(dashboard, /Confirm your email address/);
    assert.match(dashboard, /action="\/verify-email\/resend"/);

    const from = mail.mark();
    const forged = await browser.postForm('/verify-email/resend', {});
    assert.equal(forged.status, 403, 'CSRF');
    const sent = await browser.postForm('/verify-email/resend', { _csrf: csrfFrom(dashboard) });
    assert.equal(sent.status, 200);
    assert.match(await sent.text(), /We sent a new link/);
    const fresh = linkIn(await mail.one(email, VERIFY_MAIL, from), '/verify-email');
    assert.notEqual(fresh, link);
    assert.equal((await browser.get(link)).status, 400, 'the older link no longer works');

    // Over the limit: no more mail.
    const over = await browser.postForm('/verify-email/resend', { _csrf: csrfFrom(dashboard) });
    assert.equal(over.status, 429);
    assert.equal((await mail.to(email, from)).length, 1);

    const page = await (await browser.get(fresh)).text();
    await browser.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(fresh) });
    assert.doesNotMatch(await (await browser.get('/dashboard')).text(), /Resend the link/, 'banner gone');
  });

  it('keeps an unverified account out of OAuth applications until it verifies; then email_verified', async () => {
    const app = await world.app(undefined, { scopes: ['read:users'] });
    const { email, link } = await signedUp('oauth');
    const browser = new Browser(server.url);
    const start = authorizeUrl(server.url, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'openid email read:users',
      state: 's',
    });
    const signIn = async () => {
      const { res } = await browser.follow(await browser.get(start));
      const html = await res.text();
      return browser.postForm(formAction(html, '/login'), { _csrf: csrfFrom(html), email, password: PASSWORD });
    };
    const blocked = await signIn();
    assert.equal(blocked.status, 403);
    const html = await blocked.text();
    assert.match(html, /Verify your email first/);
    assert.match(html, /action="\/verify-email\/resend"/);
    // The dashboard itself stays usable, to resend the link.
    assert.equal((await browser.get('/dashboard')).status, 200);

    const page = await (await browser.get(link)).text();
    await browser.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(link) });
    // Still signed in to the dashboard from the blocked attempt: one sign-in serves both, so the
    // application's request now goes straight to consent.
    let { res, url } = await browser.follow(await browser.get(start));
    const consent = await res.text();
    ({ res, url } = await browser.follow(
      await browser.postForm(formAction(consent, '/confirm'), { _csrf: csrfFrom(consent) }),
    ));
    const code = new URL(url).searchParams.get('code');
    assert.ok(code, `a code: ${url}`);
    const tokens = await token(server, app, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
    assert.equal(tokens.status, 200);
    const claims = idTokenClaims(String(tokens.body['id_token']));
    assert.equal(claims['email_verified'], true);
  });
});

describe('email verification not required (REQUIRE_EMAIL_VERIFICATION=false)', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      env: { EMAIL_URL: smtp.url, REQUIRE_EMAIL_VERIFICATION: 'false' },
      emailPollMs: HOUR,
    });
    world = worldOn(server);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  it('lets an unverified account sign in to an application, with email_verified false, then true', async () => {
    const mail = mailboxOf(server, smtp);
    const app = await world.app(undefined, { scopes: ['read:users'] });
    const email = uniqueEmail('lenient');
    const from = mail.mark();
    await signUpForm(new Browser(server.url), email);
    const flow = async () => {
      const browser = new Browser(server.url);
      let { res, url } = await browser.follow(
        await browser.get(
          authorizeUrl(server.url, {
            clientId: app.client_id,
            redirectUri: REDIRECT_URI,
            scope: 'openid email read:users',
            state: 's',
          }),
        ),
      );
      for (let i = 0; i < 3 && res.status === 200; i++) {
        const html = await res.text();
        const next = html.includes('name="password"')
          ? await browser.postForm(formAction(html, '/login'), { _csrf: csrfFrom(html), email, password: PASSWORD })
          : await browser.postForm(formAction(html, '/confirm'), { _csrf: csrfFrom(html) });
        ({ res, url } = await browser.follow(next));
      }
      const code = new URL(url).searchParams.get('code');
      assert.ok(code, `a code: ${url} (${res.status})`);
      const tokens = await token(server, app, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
      assert.equal(tokens.status, 200);
      return idTokenClaims(String(tokens.body['id_token']));
    };
    const before = await flow();
    assert.equal(before['email_verified'], false);

    const link = linkIn(await mail.one(email, VERIFY_MAIL, from), '/verify-email');
    const b = new Browser(server.url);
    const page = await (await b.get(link)).text();
    assert.equal((await b.postForm('/verify-email', { _csrf: csrfFrom(page), token: tokenOf(link) })).status, 200);
    const after = await flow();
    assert.equal(after['email_verified'], true);
  });
});
