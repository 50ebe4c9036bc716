import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, authorize, authorizeUrl, csrfFrom, formAction } from '../../test/support/http.ts';
import { REDIRECT_URI, startWorld, type RegisteredApp, type TestWorld } from '../../test/support/world.ts';

/**
 * One sign-in serves both: the dashboard session (the `lk_session` cookie) and the OAuth
 * provider's session agree. Signed in on /login, /oauth/authorize does not ask again (unless the
 * request says so); signed in through the OAuth form, the dashboard is signed in; signing out, or
 * "Switch account" on the consent page, ends both.
 */
describe('one sign-in for the dashboard and OAuth', () => {
  let world: TestWorld;
  let app: RegisteredApp;

  before(async () => {
    world = await startWorld();
    const dev = await world.user({ tag: 'dev' });
    app = await world.app(dev, { scopes: ['read:users'] });
  });
  after(() => world.close());

  /** The first page /oauth/authorize leads this browser to, with its URL. */
  async function startAuthorize(browser: Browser, extra: Record<string, string> = {}) {
    const url = authorizeUrl(world.url, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'openid read:users',
      state: 'st-1',
      extra,
    });
    const { res, url: at } = await browser.follow(await browser.get(url));
    return { res, at, html: res.status === 200 ? await res.text() : '' };
  }
  const isLoginForm = (html: string) => html.includes('name="password"');
  const isConsent = (html: string) => html.includes('/confirm"');

  /** Approves the consent page shown and exchanges the code; answers the ID token's claims. */
  async function approveAndExchange(browser: Browser, consentHtml: string) {
    const { url } = await browser.follow(
      await browser.postForm(formAction(consentHtml, '/confirm'), { _csrf: csrfFrom(consentHtml) }),
    );
    return exchange(new URL(url));
  }

  /** The ID token's claims for the code in a redirect back to the application. */
  async function exchange(redirect: URL) {
    assert.equal(redirect.origin + redirect.pathname, REDIRECT_URI);
    assert.equal(redirect.searchParams.get('state'), 'st-1');
    const res = await world.request('POST', '/oauth/token', {
      body: {
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code'),
        redirect_uri: REDIRECT_URI,
        client_id: app.client_id,
        client_secret: app.client_secret,
      },
    });
    assert.equal(res.status, 200, await res.text());
    const idToken = String(res.body['id_token']);
    return JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  }

  it('signed in on /login: /oauth/authorize goes straight to consent as that account', async () => {
    const alice = await world.user({ tag: 'alice' });
    const { html } = await startAuthorize(alice.browser);
    assert.ok(!isLoginForm(html), 'no second sign-in form');
    assert.ok(isConsent(html));
    assert.match(html, new RegExp(`Signed in as <strong>${alice.email}</strong>`));
    const claims = await approveAndExchange(alice.browser, html);
    assert.equal(claims['sub'], alice.id);
    assert.deepEqual(claims['amr'], ['pwd'], 'the method the dashboard sign-in used, no more');
  });

  it('a second factor passed on /login is not asked again, and is reported as used', async () => {
    const bob = await world.user({ tag: 'bob', twoFactor: true });
    // Signed in afresh with the code (the factory signed in before enrolling).
    const browser = new Browser(world.url);
    const login = await (await browser.get('/login')).text();
    const first = await browser.postForm('/login', {
      _csrf: csrfFrom(login),
      email: bob.email,
      password: bob.password,
    });
    const step = await (await browser.get(first.headers.get('location')!)).text();
    // A recovery code: the current TOTP step was spent by the enrolment just before.
    const code = bob.recoveryCodes[0]!;
    const done = await browser.postForm(formAction(step, '/login/2fa'), { _csrf: csrfFrom(step), code });
    assert.equal(done.status, 303);
    const { html } = await startAuthorize(browser);
    assert.ok(isConsent(html), 'neither the password nor the code is asked again');
    const claims = await approveAndExchange(browser, html);
    assert.equal(claims['sub'], bob.id);
    assert.deepEqual(claims['amr'], ['pwd', 'otp']);
  });

  it('prompt=login, or a max_age the session is older than, still shows the sign-in form', async () => {
    const carol = await world.user({ tag: 'carol' });
    assert.ok(isLoginForm((await startAuthorize(carol.browser, { prompt: 'login' })).html), 'prompt=login');
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok(isLoginForm((await startAuthorize(carol.browser, { max_age: '1' })).html), 'max_age=1, 1.1 s later');
    const recent = await startAuthorize(carol.browser, { max_age: '3600' });
    assert.ok(isConsent(recent.html), 'a max_age the session meets');
    const claims = await approveAndExchange(carol.browser, recent.html);
    const signedInAt = Number(claims['auth_time']);
    assert.ok(Date.now() / 1000 - signedInAt >= 1, 'auth_time is the dashboard sign-in, not the authorization');
  });

  it('a login_hint naming someone else shows the form', async () => {
    const dave = await world.user({ tag: 'dave' });
    const other = await startAuthorize(dave.browser, { login_hint: 'someone-else@example.com' });
    assert.ok(isLoginForm(other.html));
    const same = await startAuthorize(dave.browser, { login_hint: dave.email.toUpperCase() });
    assert.ok(isConsent(same.html));
  });

  it('a forged, tampered or signed-out dashboard cookie does not sign anyone in', async () => {
    const erin = await world.user({ tag: 'erin' });
    const cookie = erin.browser.jar.get('lk_session')!;
    const signature = erin.browser.jar.get('lk_session.sig')!;

    const forged = new Browser(world.url);
    forged.jar.store(fakeSetCookie({ lk_session: 'forged-session-id', 'lk_session.sig': signature }));
    assert.ok(isLoginForm((await startAuthorize(forged)).html), 'a made-up id with a borrowed signature');

    const unsigned = new Browser(world.url);
    unsigned.jar.store(fakeSetCookie({ lk_session: cookie }));
    assert.ok(isLoginForm((await startAuthorize(unsigned)).html), 'the real id without its signature');

    const copy = new Browser(world.url);
    copy.jar.store(fakeSetCookie({ lk_session: cookie, 'lk_session.sig': signature }));
    await signOut(erin.browser);
    assert.ok(isLoginForm((await startAuthorize(copy)).html), 'a copy of a cookie signed out since');
  });

  it("a deleted account's session does not complete an authorization", async () => {
    const admin = await world.user({ admin: true, tag: 'admin' });
    const key = await world.apiKey(admin, ['admin:all']);
    const frank = await world.user({ tag: 'frank' });
    const deleted = await world.request('DELETE', `/v2/users/${frank.id}`, { bearer: key.key });
    assert.equal(deleted.status, 204);
    const { html } = await startAuthorize(frank.browser);
    assert.ok(isLoginForm(html));
  });

  it('signing in through the OAuth form signs the dashboard in; signing out ends both', async () => {
    const grace = await world.user({ tag: 'grace' });
    const browser = new Browser(world.url);
    const { sawLogin } = await authorize(browser, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 's',
      email: grace.email,
      password: grace.password,
    });
    assert.equal(sawLogin, true);
    assert.equal(await dashboardStatus(browser), 'signed in', 'the dashboard is signed in');
    const silent = await startAuthorize(browser);
    assert.ok(!isLoginForm(silent.html), 'still signed in for OAuth');

    await signOut(browser);
    assert.equal(await dashboardStatus(browser), 'signed out', 'the dashboard is signed out');
    assert.ok(isLoginForm((await startAuthorize(browser)).html), 'and OAuth asks again');
  });

  it("signing in on /login as someone else ends this browser's OAuth sign-in of the first", async () => {
    const heidi = await world.user({ tag: 'heidi' });
    const ivan = await world.user({ tag: 'ivan' });
    const browser = new Browser(world.url);
    await authorize(browser, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 's',
      email: heidi.email,
      password: heidi.password,
    });
    // The dashboard session alone is dropped (as when it expires); the provider session stays.
    browser.jar.drop(['lk_session', 'lk_session.sig']);
    const login = await (await browser.get('/login')).text();
    await browser.postForm('/login', { _csrf: csrfFrom(login), email: ivan.email, password: ivan.password });
    const { html } = await startAuthorize(browser);
    assert.ok(isConsent(html));
    assert.match(html, new RegExp(`Signed in as <strong>${ivan.email}</strong>`), 'the account the header names');
  });

  it('prompt=login lets someone else sign in, over an OAuth sign-in of the first', async () => {
    const leo = await world.user({ tag: 'leo' });
    const mia = await world.user({ tag: 'mia' });
    const flow = (who: { email: string; password: string }, extra: Record<string, string> = {}) =>
      authorize(leo.browser, {
        clientId: app.client_id,
        redirectUri: REDIRECT_URI,
        scope: 'openid read:users',
        state: 'st-1',
        email: who.email,
        password: who.password,
        extra,
      });
    assert.equal((await flow(leo)).sawLogin, false, 'leo, from his dashboard session');
    const asMia = await flow(mia, { prompt: 'login' });
    assert.equal(asMia.sawLogin, true);
    assert.ok(asMia.redirect.searchParams.get('code'), 'a code, not a sign-out page');
    assert.equal((await exchange(asMia.redirect))['sub'], mia.id);
    const again = await flow(mia);
    assert.equal(again.sawLogin, false, 'signed in as mia now, for OAuth');
    assert.equal((await exchange(again.redirect))['sub'], mia.id);
    assert.equal(await dashboardStatus(leo.browser), 'signed in');
    assert.match(await (await leo.browser.get('/dashboard')).text(), new RegExp(mia.email), 'and the dashboard too');
  });

  describe('"Not you? Switch account" on the consent page', () => {
    it('signs this browser out and returns to the same authorization request, for someone else', async () => {
      const judy = await world.user({ tag: 'judy' });
      const kim = await world.user({ tag: 'kim' });
      const consent = await startAuthorize(judy.browser, { nonce: 'n-42' });
      assert.match(consent.html, /Not you\? <button type="submit" class="link">Switch account<\/button>/);
      const switched = await judy.browser.postForm(formAction(consent.html, '/switch-account'), {
        _csrf: csrfFrom(consent.html),
      });
      assert.equal(switched.status, 303);
      const again = new URL(switched.headers.get('location')!, world.url);
      assert.equal(again.pathname, '/oauth/authorize');
      for (const [name, value] of [
        ['client_id', app.client_id],
        ['redirect_uri', REDIRECT_URI],
        ['state', 'st-1'],
        ['nonce', 'n-42'],
        ['scope', 'openid read:users'],
      ] as const) {
        assert.equal(again.searchParams.get(name), value, name);
      }
      assert.equal(await dashboardStatus(judy.browser), 'signed out', 'the dashboard is signed out');

      const { res, url } = await judy.browser.follow(await judy.browser.get(again.toString()));
      const loginHtml = await res.text();
      assert.ok(isLoginForm(loginHtml), `the sign-in form, at ${url}`);
      assert.match(loginHtml, /You are signed out\. Sign in as the person who should continue\./);
      const signedIn = await judy.browser.follow(
        await judy.browser.postForm(formAction(loginHtml, '/login'), {
          _csrf: csrfFrom(loginHtml),
          email: kim.email,
          password: kim.password,
        }),
      );
      const consentKim = await signedIn.res.text();
      assert.match(consentKim, new RegExp(`Signed in as <strong>${kim.email}</strong>`));
      const claims = await approveAndExchange(judy.browser, consentKim);
      assert.equal(claims['sub'], kim.id);
      assert.equal(claims['nonce'], 'n-42', 'the same request, continued');
    });

    it('is refused without the CSRF token, and signs nobody out', async () => {
      const judy = await world.user({ tag: 'judy' });
      const consent = await startAuthorize(judy.browser);
      const refused = await judy.browser.postForm(formAction(consent.html, '/switch-account'), { _csrf: 'nope' });
      assert.equal(refused.status, 403);
      assert.equal(await dashboardStatus(judy.browser), 'signed in', 'still signed in');
    });
  });
});

/** Set-Cookie headers for a jar, as if the server had sent them. */
function fakeSetCookie(cookies: Record<string, string>): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(cookies)) headers.append('set-cookie', `${name}=${value}; path=/`);
  return new Response(null, { headers });
}

/** Whether the browser's dashboard session works (the dashboard answers) or not (sent to sign in). */
async function dashboardStatus(browser: Browser): Promise<'signed in' | 'signed out'> {
  const res = await browser.get('/dashboard');
  if (res.status === 200) return 'signed in';
  assert.match(res.headers.get('location') ?? '', /^\/login/);
  return 'signed out';
}

async function signOut(browser: Browser): Promise<void> {
  const page = await (await browser.get('/dashboard')).text();
  const res = await browser.postForm('/logout', { _csrf: csrfFrom(page) });
  assert.equal(res.status, 303);
}
