import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import {
  codeFlow,
  introspect,
  newApp,
  refresh,
  token,
  type RegisteredApp,
  type User,
} from '../../test/support/oauth.ts';
import { worldOn } from '../../test/support/world.ts';

// Refresh tokens rotate on every use. Presenting a rotated one again revokes the whole grant, except
// within REFRESH_TOKEN_REUSE_GRACE seconds of its rotation (two tabs refreshing at once). The grace is
// measured on the server's clock (the adapter stores consumption times from it), which the tests drive.
describe('refresh tokens', () => {
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

  const presentExpectingInvalidGrant = async (refreshToken: string) => {
    const res = await token(server, app, { grant_type: 'refresh_token', refresh_token: refreshToken });
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'invalid_grant');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  };

  it('rotates the refresh token on every use, keeping the granted scopes', async () => {
    const first = await codeFlow(server, app, user, { scope: 'read:users write:projects' });
    assert.ok(first.refresh_token);

    clock += 1_000;
    const second = await refresh(server, app, first.refresh_token);
    assert.ok(second.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.notEqual(second.access_token, first.access_token);
    assert.equal(second.scope, 'read:users write:projects');
    assert.equal(second.token_type, 'Bearer');

    clock += 1_000;
    const third = await refresh(server, app, second.refresh_token!);
    assert.notEqual(third.refresh_token, second.refresh_token);
    const info = await introspect(server, app, third.access_token);
    assert.equal(info['active'], true);
    assert.equal(info['scope'], 'read:users write:projects');
  });

  it('revokes the whole grant when a rotated token is presented after the grace window', async () => {
    const first = await codeFlow(server, app, user);
    const second = await refresh(server, app, first.refresh_token!);

    clock += 5_001; // REFRESH_TOKEN_REUSE_GRACE defaults to 5 seconds
    await presentExpectingInvalidGrant(first.refresh_token!);

    // Everything the grant issued is gone: the newest refresh token and every access token.
    await presentExpectingInvalidGrant(second.refresh_token!);
    assert.deepEqual(await introspect(server, app, first.access_token), { active: false });
    assert.deepEqual(await introspect(server, app, second.access_token), { active: false });
    // And the old token stays refused.
    await presentExpectingInvalidGrant(first.refresh_token!);
  });

  it('accepts a rotated token again within the grace window (two tabs), counted from the first rotation', async () => {
    const first = await codeFlow(server, app, user);
    const tabA = await refresh(server, app, first.refresh_token!);

    clock += 4_000;
    const tabB = await refresh(server, app, first.refresh_token!);
    assert.ok(tabB.refresh_token);
    assert.notEqual(tabB.refresh_token, tabA.refresh_token);
    assert.notEqual(tabB.refresh_token, first.refresh_token);
    assert.equal((await introspect(server, app, tabA.access_token))['active'], true);
    assert.equal((await introspect(server, app, tabB.access_token))['active'], true);

    // Each tab goes on with its own chain.
    clock += 500;
    const tabA2 = await refresh(server, app, tabA.refresh_token!);
    const tabB2 = await refresh(server, app, tabB.refresh_token!);

    // 5.5 s after the first rotation: the grace window does not restart with the second presentation.
    clock += 1_000;
    await presentExpectingInvalidGrant(first.refresh_token!);
    await presentExpectingInvalidGrant(tabA2.refresh_token!);
    await presentExpectingInvalidGrant(tabB2.refresh_token!);
    assert.deepEqual(await introspect(server, app, tabA2.access_token), { active: false });
    assert.deepEqual(await introspect(server, app, tabB2.access_token), { active: false });
  });

  it('lets two parallel refreshes with the same token both succeed', async () => {
    const first = await codeFlow(server, app, user);
    const [a, b] = await Promise.all([
      refresh(server, app, first.refresh_token!),
      refresh(server, app, first.refresh_token!),
    ]);
    assert.notEqual(a.refresh_token, b.refresh_token);
    assert.equal((await introspect(server, app, a.access_token))['active'], true);
    assert.equal((await introspect(server, app, b.access_token))['active'], true);
  });

  it('refuses a refresh token presented by another application, without revoking its grant', async () => {
    const other = await newApp(server, { scopes: ['read:users'] });
    const first = await codeFlow(server, app, user);
    const res = await token(server, other, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'invalid_grant');
    assert.ok((await refresh(server, app, first.refresh_token!)).refresh_token);
  });

  it('forgets the consent when reuse revoked the grant', async () => {
    const someone = await worldOn(server).user();
    assert.equal((await codeFlow(server, app, someone)).sawConsent, true);
    const first = await codeFlow(server, app, someone);
    assert.equal(first.sawConsent, false, 'consent remembered across browser sessions');
    await refresh(server, app, first.refresh_token!);
    clock += 10_000;
    await presentExpectingInvalidGrant(first.refresh_token!);
    const again = await codeFlow(server, app, someone);
    assert.equal(again.sawConsent, true);
    assert.equal((await introspect(server, app, again.access_token))['active'], true);
  });
});

describe('refresh tokens with REFRESH_TOKEN_REUSE_GRACE=0', () => {
  const clock = Date.now(); // frozen: a reuse in the same millisecond is still reuse
  let server: TestServer;
  let app: RegisteredApp;
  let user: User;

  before(async () => {
    server = await startTestServer({ env: { REFRESH_TOKEN_REUSE_GRACE: '0' }, now: () => clock });
    app = await newApp(server, { scopes: ['read:users'] });
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  it('revokes the grant on any reuse of a rotated token', async () => {
    const first = await codeFlow(server, app, user);
    const second = await refresh(server, app, first.refresh_token!);
    const reuse = await token(server, app, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body['error'], 'invalid_grant');
    const next = await token(server, app, { grant_type: 'refresh_token', refresh_token: second.refresh_token });
    assert.equal(next.status, 400);
    assert.equal(next.body['error'], 'invalid_grant');
    assert.deepEqual(await introspect(server, app, second.access_token), { active: false });
    assert.deepEqual(await introspect(server, app, first.access_token), { active: false });
  });
});
