import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, authorizeUrl, csrfFrom } from '../../test/support/http.ts';
import {
  authorizeAs,
  basicAuth,
  codeFlow,
  introspect,
  logIn,
  looksLikeStackTrace,
  newApp,
  token,
  type RegisteredApp,
  type User,
} from '../../test/support/oauth.ts';
import { mintSecret } from '../shared/secrets.ts';
import { PASSWORD, REDIRECT_URI, worldOn, request, uniqueEmail } from '../../test/support/world.ts';
import { BY_SYSTEM } from '../features/audit/audit.ts';

describe('OAuth error handling', () => {
  let clock = Date.now();
  let server: TestServer;
  let app: RegisteredApp;
  let user: User;

  before(async () => {
    server = await startTestServer({ now: () => clock });
    app = await newApp(server, { scopes: ['read:users', 'write:projects'] });
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  /** A friendly HTML error page: the status, HTML, no redirect, no internals. */
  async function assertErrorPage(res: Response, status: number, title: RegExp): Promise<string> {
    assert.equal(res.status, status);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('location'), null);
    const html = await res.text();
    assert.match(html, title);
    assert.equal(looksLikeStackTrace(html), false, html);
    return html;
  }

  it('redirects with error=access_denied and the state when the user denies consent', async () => {
    const { redirect, sawConsent } = await authorizeAs(server, app, user, { state: 'deny-state', decision: 'deny' });
    assert.equal(sawConsent, true);
    assert.equal(redirect.origin + redirect.pathname, REDIRECT_URI);
    assert.equal(redirect.searchParams.get('error'), 'access_denied');
    assert.equal(redirect.searchParams.get('state'), 'deny-state');
    assert.equal(redirect.searchParams.get('iss'), server.config.ISSUER);
    assert.equal(redirect.searchParams.get('code'), null);
    // Denying is not consenting: the next request asks again.
    assert.equal((await authorizeAs(server, app, user)).sawConsent, true);
  });

  it('shows an error page, never a redirect, for a redirect_uri that is not registered exactly', async () => {
    for (const redirectUri of [
      'https://evil.example/callback',
      `${REDIRECT_URI}/`,
      `${REDIRECT_URI}?x=1`,
      'http://myapp.com/callback',
    ]) {
      const res = await new Browser(server.url).get(
        authorizeUrl(server.url, { clientId: app.client_id, redirectUri, scope: 'read:users', state: 's' }),
      );
      const html = await assertErrorPage(res, 400, /The application&#39;s return address is not registered/);
      // Plain words for the person, and what the developer should fix; not oidc-provider's wording.
      assert.match(html, /the sign-in was stopped to keep your account safe/);
      assert.match(html, /For the developer:<\/strong> The redirect_uri in the authorization request must be exactly/);
      assert.doesNotMatch(html, /did not match any of the client|registered redirect_uris/);
    }
  });

  it('shows an error page for an unknown client_id', async () => {
    const res = await new Browser(server.url).get(
      authorizeUrl(server.url, { clientId: 'app_doesnotexist', redirectUri: REDIRECT_URI, scope: 'read:users' }),
    );
    const html = await assertErrorPage(res, 400, /<h1>Unknown application<\/h1>/);
    assert.match(html, /The link names an application that is not registered here/);
    assert.match(html, /For the developer:<\/strong> The client_id in the authorization request matches no/);
    assert.doesNotMatch(html, /client is invalid|client not found/);
  });

  it('shows what is missing from an authorization request without a client_id', async () => {
    const res = await new Browser(server.url).get(`/oauth/authorize?response_type=code&scope=read:users`);
    const html = await assertErrorPage(res, 400, /<h1>The sign-in link is incomplete<\/h1>/);
    assert.match(html, /For the developer:<\/strong> The authorization request has no client_id parameter: add it\./);
    assert.doesNotMatch(html, /missing required parameter/);
  });

  it('redirects with error=invalid_scope for a scope the application was not registered for', async () => {
    for (const scope of ['read:users delete:users', 'admin:all', 'read:users no:such-scope']) {
      const { redirect, sawLogin, sawConsent } = await authorizeAs(server, app, user, { scope, state: 'scope-state' });
      assert.equal(sawLogin, false, 'refused before the login page');
      assert.equal(sawConsent, false);
      assert.equal(redirect.origin + redirect.pathname, REDIRECT_URI);
      assert.equal(redirect.searchParams.get('error'), 'invalid_scope', `for ${scope}`);
      assert.equal(redirect.searchParams.get('state'), 'scope-state');
      assert.equal(redirect.searchParams.get('code'), null);
    }
  });

  it('redirects with error=invalid_scope also when the user is signed in and has consented', async () => {
    const browser = new Browser(server.url);
    await codeFlow(server, app, user, { browser, scope: 'read:users' });
    const { redirect, sawLogin, sawConsent } = await authorizeAs(server, app, user, {
      browser,
      scope: 'read:users delete:users',
      state: 'st',
    });
    assert.equal(sawLogin, false);
    assert.equal(sawConsent, false);
    assert.equal(redirect.searchParams.get('error'), 'invalid_scope');
    assert.equal(redirect.searchParams.get('code'), null);
  });

  it('answers malformed JSON at the token, introspection and revocation endpoints with invalid_request', async () => {
    const bodies = ['{"grant_type":', 'not json', '[]', '"a string"', 'null', '42'];
    for (const path of ['/oauth/token', '/oauth/introspect', '/oauth/revoke']) {
      for (const body of bodies) {
        const res = await request(server, 'POST', path, { body, headers: { Authorization: basicAuth(app) } });
        assert.equal(res.status, 400, `${path} ${body}`);
        assert.equal(res.body['error'], 'invalid_request');
        assert.equal(typeof res.body['error_description'], 'string');
        assert.deepEqual(Object.keys(res.body).sort(), ['error', 'error_description']);
        assert.equal(res.headers.get('cache-control'), 'no-store');
      }
    }
  });

  it('answers JSON members that are not strings with invalid_request', async () => {
    for (const path of ['/oauth/token', '/oauth/introspect', '/oauth/revoke']) {
      for (const token of [{ a: 1 }, ['x', 'y']]) {
        const res = await request(server, 'POST', path, {
          body: { grant_type: 'authorization_code', token, code: token },
          headers: { Authorization: basicAuth(app) },
        });
        assert.equal(res.status, 400);
        assert.equal(res.body['error'], 'invalid_request');
        assert.match(String(res.body['error_description']), /must be a string/);
      }
    }
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8', Authorization: basicAuth(app) },
      body: JSON.stringify({ token: 'not-a-token' }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { active: false });
  });

  it('answers a wrong client secret with 401 invalid_client', async () => {
    const { redirect } = await authorizeAs(server, app, user);
    const code = redirect.searchParams.get('code')!;
    // The real secret with its last character changed (to another one: it may already end in x).
    const real = app.client_secret!;
    const nearMiss = `${real.slice(0, -1)}${real.endsWith('x') ? 'y' : 'x'}`;
    for (const secret of ['wrong', mintSecret('lkcs'), nearMiss]) {
      const inBody = await token(
        server,
        { ...app, client_secret: secret },
        { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
      );
      assert.equal(inBody.status, 401);
      assert.equal(inBody.body['error'], 'invalid_client');
      const basic = await request(server, 'POST', '/oauth/token', {
        body: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI },
        headers: { Authorization: basicAuth({ ...app, client_secret: secret }) },
      });
      assert.equal(basic.status, 401);
      assert.equal(basic.body['error'], 'invalid_client');
    }
    // The failed attempts did not use up the code.
    const ok = await token(server, app, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
    assert.equal(ok.status, 200);
  });

  it('refuses a replayed authorization code and revokes the tokens of the first exchange', async () => {
    const first = await codeFlow(server, app, user);
    assert.equal((await introspect(server, app, first.access_token))['active'], true);

    const replay = await token(server, app, {
      grant_type: 'authorization_code',
      code: first.code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body['error'], 'invalid_grant');
    assert.equal(replay.body['access_token'], undefined);

    assert.deepEqual(await introspect(server, app, first.access_token), { active: false });
    assert.deepEqual(await introspect(server, app, first.refresh_token!), { active: false });
    const refreshed = await token(server, app, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body['error'], 'invalid_grant');
  });

  it('shows a friendly page for an unknown interaction: not found, not "expired"', async () => {
    const browser = new Browser(server.url);
    const page = await assertErrorPage(
      await browser.get('/interaction/nonexistent'),
      400,
      /This sign-in request was not found/,
    );
    assert.doesNotMatch(page, /expired/);
    const csrf = csrfFrom(await (await browser.get('/login')).text());
    for (const action of ['login', 'confirm', 'abort']) {
      const res = await browser.postForm(`/interaction/nonexistent/${action}`, {
        _csrf: csrf,
        email: user.email,
        password: PASSWORD,
      });
      assert.doesNotMatch(await assertErrorPage(res, 400, /This sign-in request was not found/), /expired/);
    }
  });

  it('says a sign-in started in another browser was, rather than that it expired', async () => {
    const started = await new Browser(server.url).get(
      authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users', state: 's' }),
    );
    const interaction = new URL(started.headers.get('location')!, server.url).pathname;
    assert.match(interaction, /^\/interaction\/[\w-]+$/);
    const elsewhere = await new Browser(server.url).get(interaction);
    const html = await assertErrorPage(elsewhere, 400, /This sign-in was started in another browser/);
    assert.doesNotMatch(html, /expired|not found/);
  });

  it('says a form for a step the sign-in is not at is out of date', async () => {
    const browser = new Browser(server.url);
    const started = await browser.get(
      authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users', state: 's' }),
    );
    const interaction = new URL(started.headers.get('location')!, server.url).pathname;
    const csrf = csrfFrom(await (await browser.get(interaction)).text());
    // The sign-in is at its login step: an Approve posted now (a stale tab) is not taken.
    const res = await browser.postForm(`${interaction}/confirm`, { _csrf: csrf });
    await assertErrorPage(res, 400, /This sign-in page is out of date/);
  });

  it('shows a friendly page for an expired interaction', async () => {
    const browser = new Browser(server.url);
    const res = await browser.get(
      authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users', state: 's' }),
    );
    const interaction = new URL(res.headers.get('location')!, server.url).pathname;
    assert.match(interaction, /^\/interaction\/[\w-]+$/);
    const page = await browser.get(interaction);
    assert.equal(page.status, 200);
    const csrf = csrfFrom(await page.text());

    clock += 3_601_000; // past the interaction's one-hour lifetime
    await assertErrorPage(await browser.get(interaction), 400, /This sign-in request has expired/);
    // Another browser, with no cookie for it, is told the same: the request itself ran out of time.
    await assertErrorPage(await new Browser(server.url).get(interaction), 400, /This sign-in request has expired/);
    const login = await browser.postForm(`${interaction}/login`, {
      _csrf: csrf,
      email: user.email,
      password: PASSWORD,
    });
    await assertErrorPage(login, 400, /This sign-in request has expired/);
  });
});

describe('admin:all', () => {
  let server: TestServer;
  let app: RegisteredApp;
  let admin: User;
  let user: User;
  const SCOPE = 'read:users admin:all';

  before(async () => {
    server = await startTestServer();
    admin = { email: uniqueEmail('admin'), password: PASSWORD };
    await server.built.services.accounts.signUp({ ...admin, isAdmin: true }, BY_SYSTEM);
    const adminBrowser = new Browser(server.url);
    await logIn(adminBrowser, admin);
    app = await newApp(server, { scopes: ['read:users', 'admin:all'] }, adminBrowser);
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  it('refuses to register an application with admin:all for a non-admin developer', async () => {
    const browser = new Browser(server.url);
    await logIn(browser, user);
    const res = await browser.postJson('/oauth/applications', {
      name: 'X',
      redirect_uris: [REDIRECT_URI],
      scopes: ['admin:all'],
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
  });

  it('marks admin:all unavailable to a non-admin and leaves it off the token', async () => {
    const result = await authorizeAs(server, app, user, { scope: SCOPE });
    assert.equal(result.sawConsent, true);
    const html = result.consentHtml!;
    assert.match(
      html,
      new RegExp(
        '<li class="refused">\\s*<span class="desc">Full administrative access</span> <code>admin:all</code>' +
          '\\s*<span class="note">Not available',
      ),
    );
    assert.match(
      html,
      /<li class="">\s*<span class="desc">Read user information<\/span> <code>read:users<\/code>\s*<\/li>/,
    );

    const tokens = await token(server, app, {
      grant_type: 'authorization_code',
      code: result.redirect.searchParams.get('code'),
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200);
    assert.equal(tokens.body['scope'], 'read:users');
    const info = await introspect(server, app, tokens.body['access_token'] as string);
    assert.equal(info['scope'], 'read:users');

    const refreshed = await token(server, app, {
      grant_type: 'refresh_token',
      refresh_token: tokens.body['refresh_token'],
      scope: SCOPE,
    });
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body['error'], 'invalid_scope');
  });

  it('does not ask the non-admin again, and still never grants admin:all', async () => {
    const again = await codeFlow(server, app, user, { scope: SCOPE });
    assert.equal(again.sawConsent, false);
    assert.equal(again.scope, 'read:users');
  });

  it('grants admin:all to an admin who approves it', async () => {
    const result = await authorizeAs(server, app, admin, { scope: SCOPE });
    assert.equal(result.sawConsent, true);
    assert.doesNotMatch(result.consentHtml!, /Not available/);
    const tokens = await token(server, app, {
      grant_type: 'authorization_code',
      code: result.redirect.searchParams.get('code'),
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200);
    assert.equal(tokens.body['scope'], SCOPE);
  });
});
