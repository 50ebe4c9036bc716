import assert from 'node:assert/strict';
import {
  assertForbidden,
  assertForbiddenCode,
  assertUnauthorized,
  CHALLENGE,
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /v2/api-keys: managing keys needs a dashboard session or a credential carrying admin:all (so a
// key can never mint keys). A bearer credential without admin:all is 403 insufficient_scope with
// scope="admin:all". Another user's key is 403 with the documented body (as a made-up id is) to a
// non-admin session; admin:all reaches it (and gets 404 for a key that does not exist).

/** A new key of `owner`'s, created through the service (as the dashboard does). */
const keyOf = async (env: MatrixEnv, owner: TestUser) =>
  (await env.make.apiKey(owner, ['read:users'], { name: 'managed by the matrix' })).id;
/** A fresh key of the caller's (self) or of bob's (other). */
const keyPath = async ({ env, caller, target }: RequestContext, suffix = '') =>
  `/v2/api-keys/${await keyOf(env, target === 'self' ? caller : env.bob)}${suffix}`;
/** Another user's key is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;

/** The keys the current list case made (cases run one at a time, so `check` reads its own request's). */
let listed: { mine: string; bobs: string } | undefined;

const KEY_SHAPE = /^lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}$/;

const routes: RouteFixtures = {
  createApiKey: {
    request: ({ method }) => ({
      path: '/v2/api-keys',
      body: { name: `Minted with ${method}`, scopes: ['read:users', 'read:projects'] },
    }),
    check(res, { method }) {
      assert.match(String(res.body!['key']), KEY_SHAPE);
      assert.equal(res.body!['name'], `Minted with ${method}`);
      assert.deepEqual(res.body!['scopes'], ['read:users', 'read:projects']);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  listApiKeys: {
    async request({ env, caller }) {
      listed = { mine: await keyOf(env, caller), bobs: await keyOf(env, env.bob) };
      return { path: '/v2/api-keys' };
    },
    check(res, { caller, env }) {
      const data = res.body!['data'] as Record<string, unknown>[];
      const ids = data.map((k) => k['id']);
      assert.ok(ids.includes(listed!.mine), 'its own new key is listed');
      // Only the account's own keys, admin:all included (bob's list is bob's alone).
      if (caller.id !== env.bob.id) assert.ok(!ids.includes(listed!.bobs), "another user's key is listed");
      // Listings never show a usable key.
      for (const k of data) assert.equal(k['key'], undefined);
    },
  },
  getApiKey: {
    owned,
    request: async (ctx) => ({ path: await keyPath(ctx) }),
    check(res) {
      assert.equal(res.body!['status'], 'active');
      assert.equal(res.body!['key'], undefined);
    },
  },
  revokeApiKey: {
    owned,
    request: async (ctx) => ({ path: await keyPath(ctx) }),
    check(res) {
      assert.equal(res.body!['status'], 'revoked');
    },
  },
  revokeApiKeyAction: {
    owned,
    request: async (ctx) => ({ path: await keyPath(ctx, '/revoke') }),
    check(res) {
      assert.equal(res.body!['status'], 'revoked');
    },
  },
  rotateApiKey: {
    owned,
    request: async (ctx) => ({ path: await keyPath(ctx, '/rotate') }),
    check(res) {
      assert.match(String(res.body!['key']), KEY_SHAPE);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  getApiKeyActivity: {
    owned,
    request: async (ctx) => ({ path: await keyPath(ctx, '/activity') }),
    check(res) {
      assert.ok(Array.isArray(res.body!['data']));
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: 'a dashboard session (no bearer credential) may create, list and revoke its own keys',
    async run(env) {
      const browser = env.alice.browser;
      const created = await browser.postJson('/v2/api-keys', { name: 'From the dashboard', scopes: ['read:projects'] });
      assert.equal(created.status, 201);
      const body = (await created.json()) as { id: string; key: string };
      assert.match(body.key, KEY_SHAPE);
      const list = await browser.get('/v2/api-keys');
      assert.equal(list.status, 200);
      assert.ok(((await list.json()) as { data: { id: string }[] }).data.some((k) => k.id === body.id));
      // The key works, then the owner's session revokes it with DELETE, and it is refused at once.
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${body.key}` })).status,
        200,
      );
      const revoked = await browser.request(`/v2/api-keys/${body.id}`, { method: 'DELETE' });
      assert.equal(revoked.status, 200);
      assertUnauthorized(
        await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${body.key}` }),
        CHALLENGE.invalidToken,
      );
    },
  },
  {
    label: "a non-admin's session cannot mint a key with admin:all (a key never exceeds its creator)",
    async run(env) {
      const res = await env.alice.browser.postJson('/v2/api-keys', {
        name: 'Escalation',
        scopes: ['read:users', 'admin:all'],
      });
      assert.equal(res.status, 403);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    },
  },
  {
    label: "refused revokes and rotations of another user's key leave it working",
    async run(env) {
      const bobsKey = await env.make.apiKey(env.bob, ['read:users']);
      const cookie = { Cookie: env.alice.browser.jar.header() };
      for (const suffix of ['/rotate', '/revoke'])
        assertForbidden(
          await env.send({ method: 'POST', path: `/v2/api-keys/${bobsKey.id}${suffix}`, headers: cookie }),
        );
      assertForbidden(await env.send({ method: 'DELETE', path: `/v2/api-keys/${bobsKey.id}`, headers: cookie }));
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${bobsKey.key}` })).status,
        200,
      );
    },
  },
  {
    label: 'a JWT with admin:all whose sub is not a Latchkey account cannot manage keys (403 FORBIDDEN)',
    async run(env) {
      const auth = `Bearer ${env.jwtFor('user_123', ['admin:all'])}`;
      assertForbiddenCode(
        await env.send({
          method: 'POST',
          path: '/v2/api-keys',
          authorization: auth,
          body: { name: 'Unbound', scopes: ['read:users'] },
        }),
      );
      assertForbiddenCode(await env.send({ method: 'GET', path: '/v2/api-keys', authorization: auth }));
    },
  },
]);
