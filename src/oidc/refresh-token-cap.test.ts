import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  codeFlow,
  newApp,
  refresh,
  token,
  type RegisteredApp,
  type TokenSet,
  type User,
} from '../../test/support/oauth.ts';
import { loadConfig } from '../config.ts';
import { worldOn } from '../../test/support/world.ts';

// Each rotation issues a refresh token with a fresh 30-day lifetime; without an absolute cap a
// stolen refresh token, used once a month, would live for ever. The chain ends
// REFRESH_TOKEN_ABSOLUTE_TTL (90 days by default) after the person authorized the application.
const DAY = 86_400_000;

describe('refresh tokens: absolute lifetime from the authorization', () => {
  let clock = Date.now();
  let server: TestServer;
  let app: RegisteredApp;
  let user: User;

  before(async () => {
    server = await startTestServer({ now: () => clock });
    app = await newApp(server, { scopes: ['read:users'] });
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  it('defaults to 90 days', () => {
    assert.equal(loadConfig({}).REFRESH_TOKEN_ABSOLUTE_TTL, 90 * 86_400);
  });

  it('refreshing every 29 days works until 90 days after the authorization, then invalid_grant', async () => {
    const authorizedAt = clock;
    let current: TokenSet = await codeFlow(server, app, user);
    for (const day of [29, 58, 87]) {
      clock = authorizedAt + day * DAY;
      current = await refresh(server, app, current.refresh_token!);
    }
    clock = authorizedAt + 90 * DAY + 1_000;
    const res = await token(server, app, { grant_type: 'refresh_token', refresh_token: current.refresh_token! });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body['error'], 'invalid_grant');
    assert.equal(res.headers.get('cache-control'), 'no-store');

    // The person authorizing again starts a new chain.
    const again = await codeFlow(server, app, user);
    assert.ok(again.refresh_token);
    clock += DAY;
    assert.ok((await refresh(server, app, again.refresh_token!)).access_token);
  });

  it('a rotated refresh token never outlives the cap (introspection exp within it)', async () => {
    const capped = await startTestServer({ env: { REFRESH_TOKEN_ABSOLUTE_TTL: '600', REFRESH_TOKEN_TTL: '3600' } });
    try {
      const capApp = await newApp(capped, { scopes: ['read:users'] });
      const first = await codeFlow(capped, capApp, await worldOn(capped).user());
      const next = await refresh(capped, capApp, first.refresh_token!);
      const res = await token(capped, capApp, { grant_type: 'refresh_token', refresh_token: next.refresh_token! });
      assert.equal(res.status, 200);
      // Introspection reports the refresh token's expiry: no later than the cap.
      const info = await fetch(`${capped.url}/oauth/introspect`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Basic ${Buffer.from(`${capApp.client_id}:${capApp.client_secret}`).toString('base64')}`,
        },
        body: JSON.stringify({ token: res.body['refresh_token'] }),
      });
      const body = (await info.json()) as { active: boolean; exp: number };
      assert.equal(body.active, true);
      assert.ok(body.exp <= Math.floor(Date.now() / 1000) + 600, `exp ${body.exp} is past the cap`);
    } finally {
      await capped.dispose();
    }
  });
});
