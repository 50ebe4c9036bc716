/**
 * Logout, as OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 describe it, against
 * the real server: the confirmation page at /oauth/logout (with and without id_token_hint), the
 * registered post-logout redirect (state echoed) and the unregistered one refused, one sign-out
 * ending both the provider and the dashboard session; and logout tokens, received by a real HTTP
 * receiver and verified with the published keys, from every way a sign-in ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { Browser, authorizeUrl, csrfFrom } from '../support/http.ts';
import { publishedKeys, signInWithOpenId, tokenRequest, verifyIdToken } from '../support/openid.ts';
import { REDIRECT_URI, startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../support/world.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

const SIGNED_OUT_URI = 'https://myapp.com/signed-out';
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Registers an OpenID application with logout settings, as its developer's browser. */
async function registerWithLogout(dev: TestUser, logout: Record<string, unknown>): Promise<RegisteredApp> {
  const res = await dev.browser.postJson('/oauth/applications', {
    name: 'Logout RP',
    redirect_uris: [REDIRECT_URI],
    scopes: ['read:users'],
    ...logout,
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body as RegisteredApp;
}

/** The xsrf secret and action of the confirmation page. */
function confirmForm(html: string): { action: string; xsrf: string } {
  const action = /<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="xsrf"/.exec(html)?.[1];
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(action && xsrf, 'the confirmation page has the sign-out form');
  return { action: action.replace(/&amp;/g, '&'), xsrf };
}

/** Whether this browser's dashboard session still stands. */
async function dashboardSignedIn(browser: Browser): Promise<boolean> {
  const res = await browser.get('/dashboard');
  return res.status === 200;
}

/** Waits (briefly) until the receiver has `count` requests. */
async function received(receiver: WebhookReceiver, count: number): Promise<void> {
  for (let i = 0; i < 100 && receiver.requests.length < count; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(receiver.requests.length, count, 'logout tokens received');
}

describe('logout', () => {
  let world: TestWorld;
  let receiver: WebhookReceiver;
  let dev: TestUser;
  let app: RegisteredApp;

  before(async () => {
    world = await startWorld({ env: { WEBHOOK_ALLOW_PRIVATE: '1' } });
    receiver = await WebhookReceiver.start();
    dev = await world.user({ tag: 'dev' });
    app = await registerWithLogout(dev, {
      post_logout_redirect_uris: [SIGNED_OUT_URI],
      backchannel_logout_uri: receiver.url('/backchannel'),
      backchannel_logout_session_required: true,
    });
  });
  after(async () => {
    await receiver.close();
    await world.close();
  });

  /** A person signed in to the dashboard and, in the same browser, to the application. */
  async function signedIn(): Promise<{ user: TestUser; idToken: string; sid: string; refreshToken: string }> {
    const user = await world.user({ tag: 'rp' });
    const tokens = await signInWithOpenId(world.server, app, user, { browser: user.browser });
    const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
    assert.equal(typeof payload['sid'], 'string', 'backchannel_logout_session_required: the ID token has sid');
    return { user, idToken: tokens.id_token, sid: String(payload['sid']), refreshToken: tokens.refresh_token! };
  }

  /** The logout token of a receiver's request, verified with the published keys; every claim checked. */
  async function verifiedLogoutToken(index: number, expect: { sub: string; sid?: string }) {
    const request = receiver.requests[index]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/backchannel');
    assert.match(request.headers['content-type'] ?? '', /^application\/x-www-form-urlencoded/);
    const token = new URLSearchParams(request.body).get('logout_token');
    assert.ok(token, 'the body is logout_token=...');
    const jwks = createLocalJWKSet((await publishedKeys(world.server)) as never);
    const { payload } = await jwtVerify(token, jwks, {
      issuer: world.server.config.ISSUER,
      audience: app.client_id,
      algorithms: ['RS256'],
      typ: 'logout+jwt',
    });
    assert.ok(decodeProtectedHeader(token).kid, 'the header names the key');
    const now = Math.floor(Date.now() / 1000);
    assert.ok(typeof payload.iat === 'number' && Math.abs(payload.iat - now) < 60, 'iat is now');
    assert.equal(payload.exp, payload.iat + 120, 'good for two minutes');
    assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16, 'jti');
    assert.deepEqual(payload['events'], { [LOGOUT_EVENT]: {} });
    assert.equal(payload.sub, expect.sub);
    if (expect.sid) assert.equal(payload['sid'], expect.sid);
    assert.equal(payload['nonce'], undefined, 'a logout token never has a nonce');
    return payload;
  }

  it('RP-initiated with id_token_hint: confirm, sign out, back to the registered URI with state', async () => {
    const { user, idToken, sid, refreshToken } = await signedIn();
    const start = receiver.requests.length;
    const query = new URLSearchParams({
      id_token_hint: idToken,
      post_logout_redirect_uri: SIGNED_OUT_URI,
      state: 'st-42',
      ui_locales: 'en',
      logout_hint: user.email,
    });
    const page = await user.browser.get(`/oauth/logout?${query}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Sign out of Latchkey\?/);
    assert.ok(html.includes(`You are signed in as <strong>${user.email}</strong>`));
    assert.match(html, /Logout RP/);
    assert.match(html, />Sign out</);
    assert.match(html, />Stay signed in</);

    const { action, xsrf } = confirmForm(html);
    const done = await user.browser.postForm(action, { xsrf, logout: 'yes' });
    assert.equal(done.status, 303, await done.clone().text());
    assert.equal(done.headers.get('location'), `${SIGNED_OUT_URI}?state=st-42`);

    // One sign-in served both: the dashboard session ended, and so did the provider's.
    assert.equal(await dashboardSignedIn(user.browser), false);
    const silent = await user.browser.get(
      authorizeUrl(world.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'openid', state: 's' }) +
        '&prompt=none',
    );
    assert.equal(new URL(silent.headers.get('location')!).searchParams.get('error'), 'login_required');

    await received(receiver, start + 1);
    await verifiedLogoutToken(start, { sub: user.id, sid });

    // Signing out ends the sign-in, not the authorization: refresh tokens outlive the browser session.
    const refreshed = await tokenRequest(world.server, app, {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    assert.equal(refreshed.status, 200);
  });

  it('RP-initiated without id_token_hint: the confirmation page, then the signed-out page', async () => {
    const { user } = await signedIn();
    const page = await user.browser.get('/oauth/logout');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Sign out of Latchkey\?/);
    const { action, xsrf } = confirmForm(html);
    const done = await user.browser.postForm(action, { xsrf, logout: 'yes' });
    assert.equal(done.status, 303);
    const success = new URL(done.headers.get('location')!, world.url);
    assert.equal(success.pathname, '/oauth/logout/success');
    const signedOut = await user.browser.get(success.toString());
    assert.equal(signedOut.status, 200);
    assert.match(await signedOut.text(), /You are signed out/);
    assert.equal(await dashboardSignedIn(user.browser), false);
  });

  it('client_id names the application when there is no id_token_hint; the registered URI is honoured', async () => {
    const { user } = await signedIn();
    const query = new URLSearchParams({ client_id: app.client_id, post_logout_redirect_uri: SIGNED_OUT_URI });
    const html = await (await user.browser.get(`/oauth/logout?${query}`)).text();
    const { action, xsrf } = confirmForm(html);
    const done = await user.browser.postForm(action, { xsrf, logout: 'yes' });
    assert.equal(done.headers.get('location'), SIGNED_OUT_URI);
  });

  it('"Stay signed in" ends only the application\'s part: the dashboard session stands', async () => {
    const { user, idToken } = await signedIn();
    const query = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: SIGNED_OUT_URI, state: 'x' });
    const html = await (await user.browser.get(`/oauth/logout?${query}`)).text();
    const { action, xsrf } = confirmForm(html);
    const done = await user.browser.postForm(action, { xsrf });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${SIGNED_OUT_URI}?state=x`);
    assert.equal(await dashboardSignedIn(user.browser), true);
  });

  it('an unregistered post_logout_redirect_uri: an error page, no redirect, still signed in', async () => {
    const { user, idToken } = await signedIn();
    const query = new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' });
    const res = await user.browser.request(`/oauth/logout?${query}`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    const html = await res.text();
    assert.match(html, /return address is not registered/);
    assert.match(html, /You have not been signed out/);
    assert.ok(!html.includes('name="xsrf"'), 'no sign-out form');
    assert.equal(await dashboardSignedIn(user.browser), true);
  });

  it('a forged confirmation (no xsrf from the page) signs nobody out', async () => {
    const { user } = await signedIn();
    await user.browser.get('/oauth/logout');
    const forged = await user.browser.postForm('/oauth/logout/confirm', { xsrf: 'guessed', logout: 'yes' });
    assert.equal(forged.status, 400);
    assert.equal(await dashboardSignedIn(user.browser), true);
  });

  it("back-channel: the dashboard's Sign out reaches the application", async () => {
    const { user, sid } = await signedIn();
    const start = receiver.requests.length;
    const page = await (await user.browser.get('/dashboard')).text();
    const res = await user.browser.postForm('/logout', { _csrf: csrfFrom(page) });
    assert.equal(res.status, 303);
    await received(receiver, start + 1);
    await verifiedLogoutToken(start, { sub: user.id, sid });
  });

  it('back-channel: Settings → Sessions "sign out all other sessions" reaches the application', async () => {
    const { user, sid } = await signedIn();
    // The same person in a second browser, signed in to the dashboard only.
    const other = new Browser(world.url);
    const login = await (await other.get('/login')).text();
    await other.postForm('/login', { _csrf: csrfFrom(login), email: user.email, password: user.password });
    const start = receiver.requests.length;
    const sessions = await (await other.get('/settings/sessions')).text();
    const res = await other.postForm('/settings/sessions/sign-out-others', { _csrf: csrfFrom(sessions) });
    assert.equal(res.status, 303);
    await received(receiver, start + 1);
    await verifiedLogoutToken(start, { sub: user.id, sid });
    assert.equal(await dashboardSignedIn(user.browser), false);
  });

  it('back-channel: a password change and an account deletion reach the application', async () => {
    const { user, sid } = await signedIn();
    const accounts = world.server.built.services.accounts;
    let start = receiver.requests.length;
    await accounts.setPassword(user.id, 'not-this-browser', 'an entirely new passphrase 42', BY_SYSTEM);
    await received(receiver, start + 1);
    await verifiedLogoutToken(start, { sub: user.id, sid });

    const again = await signedIn();
    start = receiver.requests.length;
    await world.server.built.services.users.deleteOwn(again.user.id, BY_SYSTEM);
    await received(receiver, start + 1);
    await verifiedLogoutToken(start, { sub: again.user.id, sid: again.sid });
  });

  it('a receiver that fails does not fail the sign-out', async () => {
    const { user } = await signedIn();
    receiver.respond(500);
    try {
      const page = await (await user.browser.get('/dashboard')).text();
      const res = await user.browser.postForm('/logout', { _csrf: csrfFrom(page) });
      assert.equal(res.status, 303);
      assert.equal(await dashboardSignedIn(user.browser), false);
    } finally {
      receiver.respond(200);
    }
  });

  it('registration: logout URIs are https (http on loopback), no fragment; sign-in applications only', async () => {
    const post = (body: Record<string, unknown>) =>
      dev.browser.postJson('/oauth/applications', { name: 'x', redirect_uris: [REDIRECT_URI], scopes: [], ...body });
    for (const [body, field] of [
      [{ post_logout_redirect_uris: ['http://myapp.com/out'] }, 'post_logout_redirect_uris.0'],
      [{ post_logout_redirect_uris: ['https://myapp.com/out#x'] }, 'post_logout_redirect_uris.0'],
      [{ backchannel_logout_uri: 'http://myapp.com/bc' }, 'backchannel_logout_uri'],
      [
        { type: 'service', redirect_uris: [], backchannel_logout_uri: 'https://myapp.com/bc' },
        'backchannel_logout_uri',
      ],
    ] as const) {
      const res = await post(body);
      const answer = (await res.json()) as { error: { field?: string } };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(answer.error.field, field, JSON.stringify(answer));
    }
    const view = (await (await dev.browser.get(`/oauth/applications/${app.client_id}`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(view['post_logout_redirect_uris'], [SIGNED_OUT_URI]);
    assert.equal(view['backchannel_logout_uri'], receiver.url('/backchannel'));
    assert.equal(view['backchannel_logout_session_required'], true);
    const updated = await dev.browser.request(`/oauth/applications/${app.client_id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ post_logout_redirect_uris: ['http://localhost:3000/out', SIGNED_OUT_URI] }),
    });
    assert.equal(updated.status, 200);
    const after = (await updated.json()) as Record<string, unknown>;
    assert.deepEqual(after['post_logout_redirect_uris'], ['http://localhost:3000/out', SIGNED_OUT_URI]);
    assert.equal(after['backchannel_logout_uri'], receiver.url('/backchannel'), 'not given: kept');
  });

  it('dashboard: the application page shows and edits the sign-out settings', async () => {
    const registered = await registerWithLogout(dev, {});
    const path = `/settings/applications/${registered.client_id}`;
    const html = await (await dev.browser.get(path)).text();
    assert.match(html, /name="post_logout_redirect_uris"/);
    assert.match(html, /name="backchannel_logout_uri"/);
    const res = await dev.browser.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams([
        ['_csrf', csrfFrom(html)],
        ['name', 'Logout RP'],
        ['redirect_uris', REDIRECT_URI],
        ['scopes', 'read:users'],
        ['post_logout_redirect_uris', `${SIGNED_OUT_URI}\nhttp://localhost:3000/out`],
        ['backchannel_logout_uri', 'https://myapp.com/backchannel'],
        ['backchannel_logout_session_required', 'yes'],
      ]).toString(),
    });
    assert.equal(res.status, 303, (await res.text()).slice(0, 300));
    const view = (await (await dev.browser.get(`/oauth/applications/${registered.client_id}`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(view['post_logout_redirect_uris'], [SIGNED_OUT_URI, 'http://localhost:3000/out']);
    assert.equal(view['backchannel_logout_uri'], 'https://myapp.com/backchannel');
    assert.equal(view['backchannel_logout_session_required'], true);
    const shown = await (await dev.browser.get(path)).text();
    assert.ok(shown.includes('value="https://myapp.com/backchannel"'));
    assert.match(shown, /value="yes" checked/);
  });
});

describe('back-channel logout without WEBHOOK_ALLOW_PRIVATE', () => {
  it('a private address is refused: nothing is sent, and the sign-out still succeeds', async () => {
    const world = await startWorld();
    const receiver = await WebhookReceiver.start();
    try {
      const dev = await world.user({ tag: 'dev' });
      const app = await registerWithLogout(dev, { backchannel_logout_uri: receiver.url('/backchannel') });
      const user = await world.user({ tag: 'rp' });
      await signInWithOpenId(world.server, app, user, { browser: user.browser });
      const page = await (await user.browser.get('/dashboard')).text();
      const res = await user.browser.postForm('/logout', { _csrf: csrfFrom(page) });
      assert.equal(res.status, 303);
      assert.equal(await dashboardSignedIn(user.browser), false);
      // Sending is done before the sign-out answers: had it gone out, it would have arrived.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(receiver.requests.length, 0);
    } finally {
      await receiver.close();
      await world.close();
    }
  });
});
