/**
 * /oauth/userinfo beyond the conformance modules (basic-op.test.ts): what it refuses, and how
 * (RFC 6750 §3), its CORS, and the same answers with RFC 9068 JWT access tokens and ES256 ID tokens.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionPrincipal } from '../../src/domain/principal.ts';
import { revoke } from '../support/oauth.ts';
import {
  USERINFO_WAYS,
  publishedKeys,
  signInWithOpenId,
  userinfo,
  verifyIdToken,
  type Person,
} from '../support/openid.ts';
import { startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../support/world.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

const ORIGIN = 'https://myapp.com';

/** The challenge's parameters (`Bearer realm="...", error="..."`) by name. */
function challenge(res: Response): Record<string, string> {
  const header = res.headers.get('www-authenticate') ?? '';
  assert.match(header, /^Bearer /);
  return Object.fromEntries([...header.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
}

describe('userinfo refusals and CORS (opaque access tokens)', () => {
  let world: TestWorld;
  let app: RegisteredApp;
  let user: TestUser;
  const person = (u: TestUser): Person => ({ email: u.email, password: u.password });

  before(async () => {
    world = await startWorld();
    app = await world.app(undefined, { scopes: ['read:users', 'delete:users'] });
    user = await world.user({ tag: 'ui' });
  });
  after(() => world.close());

  const signIn = (scope = 'openid email', who: TestUser = user) =>
    signInWithOpenId(world.server, app, person(who), { scope });

  it('no token: 401 with a Bearer challenge naming the realm and no error code (RFC 6750 §3.1)', async () => {
    for (const init of [{}, { method: 'POST' }]) {
      const res = await fetch(`${world.url}/oauth/userinfo`, init);
      assert.equal(res.status, 401);
      const params = challenge(res);
      assert.equal(params['realm'], world.server.config.ISSUER);
      assert.equal(params['error'], undefined);
    }
  });

  it('an unknown token, an API key and a shared-secret JWT are invalid_token (401)', async () => {
    const key = await world.apiKey(user, ['read:users']);
    for (const token of ['not-a-token', key.key, world.jwt({ sub: user.id, scopes: ['read:users'] })]) {
      const res = await userinfo(world.server, token);
      assert.equal(res.status, 401, token);
      assert.equal(challenge(res)['error'], 'invalid_token');
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_token');
    }
  });

  it('a token in the query string, or sent two ways at once, is invalid_request (400)', async () => {
    const { access_token } = await signIn();
    const inQuery = await fetch(`${world.url}/oauth/userinfo?access_token=${access_token}`);
    assert.equal(inQuery.status, 400);
    assert.equal(challenge(inQuery)['error'], 'invalid_request');
    const both = await fetch(`${world.url}/oauth/userinfo`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${access_token}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token }).toString(),
    });
    assert.equal(both.status, 400);
    assert.equal(challenge(both)['error'], 'invalid_request');
    const notBearer = await fetch(`${world.url}/oauth/userinfo`, {
      headers: { Authorization: `Basic ${access_token}` },
    });
    assert.equal(notBearer.status, 400);
  });

  it('a token issued without openid is insufficient_scope (403), yet works at /v2', async () => {
    const { access_token } = await signIn('read:users');
    const res = await userinfo(world.server, access_token);
    assert.equal(res.status, 403);
    const params = challenge(res);
    assert.equal(params['error'], 'insufficient_scope');
    assert.equal(params['scope'], 'openid');
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: access_token })).status, 200);
  });

  it('a client_credentials token speaks for no person: invalid_token', async () => {
    const owner = await world.user({ tag: 'svc' });
    const { access_token } = await world.serviceToken(owner, ['read:users']);
    const res = await userinfo(world.server, access_token);
    assert.equal(res.status, 401);
    assert.equal(challenge(res)['error'], 'invalid_token');
  });

  it('a revoked token, and every token of a revoked consent, are refused at once', async () => {
    const first = await signIn();
    assert.equal((await userinfo(world.server, first.access_token)).status, 200);
    assert.equal(await revoke(world.server, app, first.access_token), 200);
    for (const way of USERINFO_WAYS) {
      const res = await userinfo(world.server, first.access_token, way);
      assert.equal(res.status, 401, way);
      assert.equal(challenge(res)['error'], 'invalid_token');
    }

    const second = await signIn();
    assert.equal((await userinfo(world.server, second.access_token)).status, 200);
    await world.server.built.services.consents.revoke(sessionPrincipal(user), app.client_id, BY_SYSTEM);
    assert.equal((await userinfo(world.server, second.access_token)).status, 401);
  });

  it("a deleted account's token is refused at once", async () => {
    const leaving = await world.user({ tag: 'leaving' });
    const { access_token } = await signIn('openid email read:users delete:users', leaving);
    assert.equal((await userinfo(world.server, access_token)).status, 200);
    const gone = await world.request('DELETE', `/v2/users/${leaving.id}`, { bearer: access_token });
    assert.equal(gone.status, 204);
    const res = await userinfo(world.server, access_token);
    assert.equal(res.status, 401);
    assert.equal(challenge(res)['error'], 'invalid_token');
  });

  it('CORS: a preflight is answered; the application’s own origin reads the claims, another does not', async () => {
    const preflight = await fetch(`${world.url}/oauth/userinfo`, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /GET/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/i);

    const { access_token } = await signIn();
    const own = await userinfo(world.server, access_token, 'get', { Origin: ORIGIN });
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(own.headers.get('vary') ?? '', /Origin/);

    const other = await userinfo(world.server, access_token, 'get', { Origin: 'https://evil.example' });
    assert.equal(other.status, 400);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    assert.equal(((await other.json()) as { error: string }).error, 'invalid_request');
  });

  it('only GET and POST', async () => {
    const { access_token } = await signIn();
    const res = await fetch(`${world.url}/oauth/userinfo`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${access_token}` },
    });
    assert.equal(res.status, 405);
  });
});

describe('ID_TOKEN_SIGNING_ALG=ES256 with ACCESS_TOKEN_FORMAT=jwt', () => {
  let world: TestWorld;
  let app: RegisteredApp;
  let user: TestUser;

  before(async () => {
    world = await startWorld({ env: { ID_TOKEN_SIGNING_ALG: 'ES256', ACCESS_TOKEN_FORMAT: 'jwt' } });
    app = await world.app(undefined, { scopes: ['read:users'] });
    user = await world.user({ tag: 'es' });
  });
  after(() => world.close());

  it('oidcc-id-token-signature (ES256): signed with the published P-256 key', async () => {
    const tokens = await signInWithOpenId(world.server, app, user, { scope: 'openid email read:users' });
    const { header, payload } = await verifyIdToken(world.server, app, tokens.id_token);
    assert.equal(header.alg, 'ES256');
    const key = (await publishedKeys(world.server)).keys.find((k) => k['kid'] === header.kid);
    assert.equal(key?.['crv'], 'P-256');
    assert.equal(payload.sub, user.id);
  });

  it('a JWT access token works at userinfo (every way) and at /v2; revoking its consent ends both', async () => {
    const tokens = await signInWithOpenId(world.server, app, user, { scope: 'openid email read:users' });
    assert.equal(tokens.access_token.split('.').length, 3);
    for (const way of USERINFO_WAYS) {
      const res = await userinfo(world.server, tokens.access_token, way);
      assert.equal(res.status, 200, way);
      assert.deepEqual(await res.json(), { sub: user.id, email: user.email, email_verified: false });
    }
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 200);
    await world.server.built.services.consents.revoke(sessionPrincipal(user), app.client_id, BY_SYSTEM);
    assert.equal((await userinfo(world.server, tokens.access_token)).status, 401);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 401);
  });
});
