import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, authorize, registerApp, signUp } from '../../test/support/http.ts';

// The documented OAuth steps 1-4 and token refresh, over real HTTP against a real SQLite file.
describe('OAuth authorization code flow (the documented steps 1-4)', () => {
  let server: TestServer;
  let browser: Browser;
  let app: { client_id: string; client_secret?: string };
  const REDIRECT_URI = 'https://myapp.com/callback';
  const password = 'correct horse battery';

  before(async () => {
    server = await startTestServer();
    browser = new Browser(server.url);
    await signUp(browser, 'dev@example.com', password);
    app = await registerApp(browser, {
      name: 'My Application',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users', 'write:projects'],
    });
  });
  after(() => server.dispose());

  const tokenRequest = (body: Record<string, unknown>) =>
    fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('registers, authorizes with consent, exchanges the code as JSON, introspects, refreshes and revokes', async () => {
    assert.match(app.client_secret!, /^lkcs_[0-9A-Za-z]{36}$/);
    const user = new Browser(server.url);
    await signUp(user, 'user@example.com', password);
    user.jar.clear();

    const result = await authorize(user, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users write:projects',
      state: 'xyz-state',
      email: 'user@example.com',
      password,
    });
    assert.equal(result.sawLogin, true);
    assert.equal(result.sawConsent, true);
    assert.match(result.consentHtml!, /My Application/);
    assert.match(result.consentHtml!, /myapp\.com/);
    assert.match(result.consentHtml!, /Read user information/);
    assert.equal(result.redirect.origin + result.redirect.pathname, REDIRECT_URI);
    assert.equal(result.redirect.searchParams.get('state'), 'xyz-state');
    assert.equal(result.redirect.searchParams.get('iss'), server.config.ISSUER);
    const code = result.redirect.searchParams.get('code')!;
    assert.ok(code);

    // Step 3: the documented JSON token exchange, as written.
    const response = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      client_id: app.client_id,
      client_secret: app.client_secret,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(response.status, 200);
    const tokens = (await response.json()) as Record<string, unknown>;
    const { access_token, refresh_token } = tokens as { access_token: string; refresh_token: string };
    assert.ok(access_token);
    assert.ok(refresh_token, 'refresh token issued without offline_access');
    assert.equal(tokens['token_type'], 'Bearer');
    assert.equal(tokens['scope'], 'read:users write:projects');

    // Introspection by the application itself.
    const basic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
    const intro = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basic },
      body: JSON.stringify({ token: access_token }),
    });
    const introBody = (await intro.json()) as Record<string, unknown>;
    assert.equal(introBody['active'], true);
    assert.equal(introBody['scope'], 'read:users write:projects');
    assert.equal(introBody['client_id'], app.client_id);
    assert.equal(introBody['aud'], server.config.API_RESOURCE);

    // Refreshing tokens, as documented.
    const refreshed = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token,
      client_id: app.client_id,
      client_secret: app.client_secret,
    });
    assert.equal(refreshed.status, 200);
    const { access_token: new_token, refresh_token: rotated } = (await refreshed.json()) as {
      access_token: string;
      refresh_token: string;
    };
    assert.ok(new_token);
    assert.notEqual(rotated, refresh_token, 'refresh token rotated');

    // Revocation of the new access token (form body also works).
    const revoke = await fetch(`${server.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
      body: new URLSearchParams({ token: new_token }).toString(),
    });
    assert.equal(revoke.status, 200);
    const after = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
      body: new URLSearchParams({ token: new_token }).toString(),
    });
    assert.deepEqual(await after.json(), { active: false });
  });
});
