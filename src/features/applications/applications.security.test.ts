import assert from 'node:assert/strict';
import type { TestUser } from '../../testing/credentials.ts';
import { registerApp } from '../../testing/http.ts';
import { assertForbiddenCode, assertInsufficientScope, BEARER_METHODS, securityMatrix, type MatrixEnv, type RequestContext, type RouteSpec } from '../../testing/security-matrix.ts';

// /oauth/applications with bearer credentials: write:applications to register and change,
// read:applications to read. An application is its owner's: another user's is 404 (its existence
// is not revealed) unless the credential carries admin:all.

const SEED_APP = { name: 'My Application', redirect_uris: ['https://myapp.com/callback'], scopes: ['read:users', 'write:projects'] };
/**
 * The seed's body with scopes a matrix credential holds: it carries exactly the route's scope, and
 * an application never holds more than whoever registers or changes it (registering, rotating or
 * redirecting an application with the seed's scopes is refused; see src/security/principal.attack.test.ts).
 */
const HELD_APP = { ...SEED_APP, scopes: ['write:applications'] };

/** A fresh application of `owner`'s, registered from the owner's dashboard session. */
const appOf = async (owner: TestUser) => (await registerApp(owner.browser, { ...HELD_APP, name: 'Managed by the matrix' })).client_id;
const appPath = async ({ env, caller, target }: RequestContext, suffix = '') =>
  `/oauth/applications/${await appOf(target === 'self' ? caller : env.bob)}${suffix}`;

const routes: RouteSpec[] = [
  {
    label: 'POST /oauth/applications (the seed body)',
    method: 'POST',
    scope: 'write:applications',
    ok: 201,
    request: () => ({ path: '/oauth/applications', body: HELD_APP }),
    check(res) {
      assert.match(String(res.body!['client_id']), /^app_/);
      assert.match(String(res.body!['client_secret']), /^lkcs_/);
      assert.deepEqual(res.body!['scopes'], HELD_APP.scopes);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  {
    label: 'GET /oauth/applications (list)',
    method: 'GET',
    scope: 'read:applications',
    ok: 200,
    async request({ caller }) {
      await appOf(caller);
      return { path: '/oauth/applications' };
    },
    check(res) {
      const data = res.body!['data'] as Record<string, unknown>[];
      assert.ok(data.length >= 1);
      for (const app of data) assert.equal(app['client_secret'], undefined);
    },
  },
  {
    label: 'GET /oauth/applications/:client_id',
    method: 'GET',
    scope: 'read:applications',
    ok: 200,
    owned: { othersAre: 'not_found' },
    request: async (ctx) => ({ path: await appPath(ctx) }),
    check(res) {
      assert.equal(res.body!['client_secret'], undefined);
    },
  },
  {
    label: 'PATCH /oauth/applications/:client_id',
    method: 'PATCH',
    scope: 'write:applications',
    ok: 200,
    owned: { othersAre: 'not_found' },
    request: async (ctx) => ({ path: await appPath(ctx), body: { name: `Renamed with ${ctx.method}` } }),
    check(res, { method }) {
      assert.equal(res.body!['name'], `Renamed with ${method}`);
    },
  },
  {
    label: 'DELETE /oauth/applications/:client_id',
    method: 'DELETE',
    scope: 'write:applications',
    ok: 204,
    owned: { othersAre: 'not_found' },
    request: async (ctx) => ({ path: await appPath(ctx) }),
  },
  {
    label: 'POST /oauth/applications/:client_id/secret (rotate)',
    method: 'POST',
    scope: 'write:applications',
    ok: 200,
    owned: { othersAre: 'not_found' },
    request: async (ctx) => ({ path: await appPath(ctx, '/secret') }),
    check(res) {
      assert.match(String(res.body!['client_secret']), /^lkcs_/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
];

async function bearer(env: MatrixEnv, method: (typeof BEARER_METHODS)[number], owner: TestUser, scopes: string[]) {
  return `Bearer ${await env.token(method, owner, scopes)}`;
}

securityMatrix('security matrix: /oauth/applications', routes, [
  {
    label: 'the application registered with a bearer credential belongs to its account (listed for it, 404 for others)',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const created = await env.send({ method: 'POST', path: '/oauth/applications', authorization: await bearer(env, method, env.alice, ['write:applications']), body: HELD_APP });
        assert.equal(created.status, 201, method);
        const id = String(created.body!['client_id']);
        const mine = await env.send({ method: 'GET', path: '/oauth/applications', authorization: await bearer(env, method, env.alice, ['read:applications']) });
        assert.ok((mine.body!['data'] as { client_id: string }[]).some((a) => a.client_id === id), method);
        const bobs = await env.send({ method: 'GET', path: `/oauth/applications/${id}`, authorization: await bearer(env, method, env.bob, ['read:applications']) });
        assert.equal(bobs.status, 404, method);
      }
    },
  },
  {
    label: 'read:applications alone cannot register (403 insufficient_scope write:applications)',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const res = await env.send({ method: 'POST', path: '/oauth/applications', authorization: await bearer(env, method, env.alice, ['read:applications']), body: SEED_APP });
        assertInsufficientScope(res, 'write:applications');
      }
    },
  },
  {
    label: 'write:applications alone cannot list (403 insufficient_scope read:applications)',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const res = await env.send({ method: 'GET', path: '/oauth/applications', authorization: await bearer(env, method, env.alice, ['write:applications']) });
        assertInsufficientScope(res, 'read:applications');
      }
    },
  },
  {
    label: 'a JWT whose sub is not a Latchkey account cannot register applications (403 FORBIDDEN)',
    async run(env) {
      for (const scopes of [['write:applications'], ['admin:all']]) {
        const res = await env.send({ method: 'POST', path: '/oauth/applications', authorization: `Bearer ${env.jwtFor('user_123', scopes)}`, body: SEED_APP });
        assertForbiddenCode(res);
      }
    },
  },
  {
    label: 'write:applications held by a non-admin cannot register an admin:all application (403 FORBIDDEN)',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const res = await env.send({
          method: 'POST',
          path: '/oauth/applications',
          authorization: await bearer(env, method, env.alice, ['write:applications']),
          body: { ...SEED_APP, scopes: ['read:users', 'admin:all'] },
        });
        assertForbiddenCode(res);
      }
    },
  },
  {
    label: "a refused change to another user's application leaves it untouched",
    async run(env) {
      const id = await appOf(env.bob);
      const auth = await bearer(env, 'api_key', env.alice, ['read:applications', 'write:applications']);
      assert.equal((await env.send({ method: 'PATCH', path: `/oauth/applications/${id}`, authorization: auth, body: { name: 'stolen' } })).status, 404);
      assert.equal((await env.send({ method: 'DELETE', path: `/oauth/applications/${id}`, authorization: auth })).status, 404);
      assert.equal((await env.send({ method: 'POST', path: `/oauth/applications/${id}/secret`, authorization: auth })).status, 404);
      const res = await env.send({ method: 'GET', path: `/oauth/applications/${id}`, authorization: await bearer(env, 'jwt', env.bob, ['read:applications']) });
      assert.equal(res.status, 200);
      assert.equal(res.body!['name'], 'Managed by the matrix');
    },
  },
]);
