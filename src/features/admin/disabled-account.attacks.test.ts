// Disabling an account stops it at once: every credential it holds is refused on the very next
// request (API key, OAuth access and refresh tokens, a shared-secret JWT naming it, the
// client-credentials token of an application it owns, the signed-in browser), on this instance and
// on another one sharing the database. Enabling it brings back its API keys, not its sessions or grants.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { credentialServerEnv, request, worldOn, type World } from '../../../test/support/world.ts';
import { testBackend } from '../../../test/support/database.ts';

describe(`a disabled account is stopped at once (${testBackend})`, () => {
  let server: TestServer;
  let other: TestServer;
  let world: World;

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    other = await startTestServer({
      dir: server.dir,
      database: server.database,
      env: { ...credentialServerEnv, ISSUER: server.config.ISSUER },
    });
    world = worldOn(server);
  });
  after(async () => {
    await other.close(); // before the shared database is dropped
    await server.dispose();
  });

  const check = (on: TestServer, token: string) => request(on, 'GET', '/v2/auth/test', { bearer: token });

  it('every credential works before, and is refused on the next request after', async () => {
    const admin = await world.user({ admin: true, tag: 'dis-admin' });
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const victim = await world.user({ tag: 'dis-victim' });
    const key = await world.apiKey(victim, ['read:users']);
    const oauth = await world.oauthToken(victim, ['read:users']);
    const service = await world.serviceToken(victim, ['read:users']);
    const jwt = world.jwt({ sub: victim.id, scopes: ['read:users'] });
    const tokens = [key.key, oauth.access_token, service.access_token, jwt];
    // Used (and so cached) on both instances first.
    for (const on of [server, other]) {
      for (const t of tokens) assert.equal((await check(on, t)).status, 200, `before, on ${on.url}`);
    }
    assert.equal((await victim.browser.get('/settings/security')).status, 200);

    const res = await request(server, 'POST', `/v2/admin/users/${victim.id}/disable`, { bearer: adminKey.key });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body['disabled'], true);

    for (const t of tokens) {
      const refused = await check(server, t);
      assert.equal(refused.status, 401, `${t.slice(0, 12)}…: ${JSON.stringify(refused.body)}`);
    }
    // The browser is signed out: its pages send it to sign in.
    const page = await victim.browser.get('/settings/security');
    assert.ok([302, 303].includes(page.status), `browser: ${page.status}`);
    // No new tokens at the token endpoint: the refresh token, and client credentials of its application.
    const refreshed = await request(server, 'POST', '/oauth/token', {
      body: {
        grant_type: 'refresh_token',
        refresh_token: oauth.refresh_token,
        client_id: oauth.app.client_id,
        client_secret: oauth.app.client_secret,
      },
    });
    assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body['error'], 'invalid_grant');
    const minted = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: service.app.client_id,
        client_secret: service.app.client_secret!,
        scope: 'read:users',
      }).toString(),
    });
    assert.equal(minted.status, 400);
    assert.equal(((await minted.json()) as { error: string }).error, 'unauthorized_client');

    // The other instance hears of it through the database (about a second at most).
    const deadline = Date.now() + 3_000;
    for (const t of tokens) {
      let status = (await check(other, t)).status;
      while (status !== 401 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await check(other, t)).status;
      }
      assert.equal(status, 401, `on the other instance: ${t.slice(0, 12)}…`);
    }
  });

  it('another instance that never saw the credentials refuses them at once', async () => {
    const admin = await world.user({ admin: true, tag: 'dis-admin2' });
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const victim = await world.user({ tag: 'dis-victim2' });
    const key = await world.apiKey(victim, ['read:users']);
    const jwt = world.jwt({ sub: victim.id, scopes: ['read:users'] });
    await request(server, 'POST', `/v2/admin/users/${victim.id}/disable`, { bearer: adminKey.key });
    assert.equal((await check(other, key.key)).status, 401);
    assert.equal((await check(other, jwt)).status, 401);
  });

  it('enabling brings the API keys back; the ended sessions and revoked grants stay gone', async () => {
    const admin = await world.user({ admin: true, tag: 'dis-admin3' });
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const victim = await world.user({ tag: 'dis-victim3' });
    const key = await world.apiKey(victim, ['read:users']);
    const oauth = await world.oauthToken(victim, ['read:users']);
    await request(server, 'POST', `/v2/admin/users/${victim.id}/disable`, { bearer: adminKey.key });
    const enabled = await request(server, 'POST', `/v2/admin/users/${victim.id}/enable`, { bearer: adminKey.key });
    assert.equal(enabled.status, 200);
    assert.equal(enabled.body['disabled'], false);
    assert.equal((await check(server, key.key)).status, 200);
    assert.equal((await check(server, oauth.access_token)).status, 401, 'the grant was revoked');
    const page = await victim.browser.get('/settings/security');
    assert.ok([302, 303].includes(page.status), 'the browser session stays ended');
  });
});
