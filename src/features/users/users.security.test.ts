import assert from 'node:assert/strict';
import {
  assertForbiddenCode,
  assertUnauthorized,
  CHALLENGE,
  securityMatrix,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import { uniqueEmail } from '../../../test/support/world.ts';

// /v2/users: read:users, write:users, delete:users; creating accounts for others is admin:all.
// A user reaches only themselves; admin:all reaches everyone (another user is 403 otherwise).

/**
 * The caller's own id, or another user's (bob's). When the call consumes its target (DELETE), an
 * admin always deletes a fresh victim: the admin and bob are needed by later cases.
 */
async function userId({ env, caller, target }: RequestContext, consume = false): Promise<string> {
  if (consume && caller.isAdmin) return (await env.freshUser('victim')).id;
  return target === 'self' ? caller.id : env.bob.id;
}

/** Another user's record is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;

const routes: RouteFixtures = {
  listUsers: {
    request: () => ({ path: '/v2/users' }),
    check(res, { env, caller }) {
      const ids = (res.body!['data'] as { id: string }[]).map((u) => u.id);
      if (caller.isAdmin) {
        // admin:all lists everyone.
        assert.ok(ids.includes(env.alice.id) && ids.includes(env.bob.id), `admin list: ${ids.join(',')}`);
      } else {
        // Anyone else sees only themselves.
        assert.deepEqual(ids, [caller.id]);
      }
    },
  },
  createUser: {
    request: () => ({
      path: '/v2/users',
      body: { email: uniqueEmail('matrix-created'), password: 'another long passphrase' },
    }),
    check(res) {
      assert.match(String(res.body!['id']), /^usr_/);
      assert.equal(res.body!['is_admin'], false);
      assert.equal(res.body!['password'], undefined);
      assert.equal(res.body!['password_hash'], undefined);
    },
  },
  getUser: {
    owned,
    request: async (ctx) => ({ path: `/v2/users/${await userId(ctx)}` }),
    check(res, { env, caller, target }) {
      assert.equal(res.body!['id'], target === 'self' ? caller.id : env.bob.id);
    },
  },
  updateUser: {
    owned,
    request: async (ctx) => ({ path: `/v2/users/${await userId(ctx)}`, body: { name: `Renamed by ${ctx.method}` } }),
    check(res, { method }) {
      assert.equal(res.body!['name'], `Renamed by ${method}`);
    },
  },
  deleteUser: {
    owned,
    // Deleting yourself consumes the caller: successful non-admin cases each get a fresh account.
    consumesCaller: true,
    request: async (ctx) => ({ path: `/v2/users/${await userId(ctx, true)}` }),
    async check(res, { env, caller, target }) {
      assert.equal(res.body, null);
      if (target === 'self' && !caller.isAdmin) {
        // The account is gone: its own credentials stop working at once... checked through an admin.
        const admin = await env.token('jwt', env.admin, ['admin:all']);
        const after = await env.send({
          method: 'GET',
          path: `/v2/users/${caller.id}`,
          authorization: `Bearer ${admin}`,
        });
        assert.equal(after.status, 404);
      }
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: 'write:users cannot make yourself an admin (is_admin needs admin:all) -> 403',
    async run(env) {
      for (const method of ['api_key', 'oauth', 'jwt'] as const) {
        const token = await env.token(method, env.alice, ['write:users']);
        const res = await env.send({
          method: 'PATCH',
          path: `/v2/users/${env.alice.id}`,
          authorization: `Bearer ${token}`,
          body: { is_admin: true },
        });
        assert.equal(res.status, 403, `${method}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body!['error'] as { code: string }).code, 'FORBIDDEN');
      }
      const admin = await env.token('jwt', env.admin, ['admin:all']);
      const check = await env.send({
        method: 'GET',
        path: `/v2/users/${env.alice.id}`,
        authorization: `Bearer ${admin}`,
      });
      assert.equal(check.body!['is_admin'], false);
    },
  },
  {
    label: 'an unknown user id is 403 without admin:all (existence not revealed), 404 with it',
    async run(env) {
      const path = '/v2/users/usr_doesnotexist000000';
      const alice = await env.token('api_key', env.alice, ['read:users']);
      const res = await env.send({ method: 'GET', path, authorization: `Bearer ${alice}` });
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, {
        error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' },
      });
      const admin = await env.token('api_key', env.admin, ['admin:all']);
      assert.equal((await env.send({ method: 'GET', path, authorization: `Bearer ${admin}` })).status, 404);
    },
  },
  {
    label: 'GET /v2/users/me resolves to the credential owner',
    async run(env) {
      for (const method of ['api_key', 'oauth', 'jwt'] as const) {
        const token = await env.token(method, env.alice, ['read:users']);
        const res = await env.send({ method: 'GET', path: '/v2/users/me', authorization: `Bearer ${token}` });
        assert.equal(res.status, 200, method);
        assert.equal(res.body!['id'], env.alice.id, method);
      }
    },
  },
  {
    label: "a JWT whose sub is not a Latchkey account lists nobody and reaches no user's record",
    async run(env) {
      const token = `Bearer ${env.jwtFor('user_123', ['read:users'])}`;
      const list = await env.send({ method: 'GET', path: '/v2/users', authorization: token });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body!['data'], []);
      const other = await env.send({ method: 'GET', path: `/v2/users/${env.alice.id}`, authorization: token });
      assert.equal(other.status, 403);
      assert.deepEqual(other.body, {
        error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' },
      });
    },
  },
  {
    label: "a deleted user's API key stops working at once (401 invalid_token)",
    async run(env) {
      const victim = await env.freshUser('deleted');
      const key = await env.token('api_key', victim, ['read:users', 'delete:users']);
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${key}` })).status,
        200,
      );
      const res = await env.send({ method: 'DELETE', path: `/v2/users/${victim.id}`, authorization: `Bearer ${key}` });
      assert.equal(res.status, 204);
      const again = await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${key}` });
      assertUnauthorized(again, CHALLENGE.invalidToken);
    },
  },
  {
    label: "a deleted user's OAuth access token stops working at once (401 invalid_token)",
    async run(env) {
      const victim = await env.freshUser('deleted');
      const token = await env.token('oauth', victim, ['read:users', 'delete:users']);
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${token}` })).status,
        200,
      );
      const res = await env.send({
        method: 'DELETE',
        path: `/v2/users/${victim.id}`,
        authorization: `Bearer ${token}`,
      });
      assert.equal(res.status, 204);
      const again = await env.send({ method: 'GET', path: '/v2/users/me', authorization: `Bearer ${token}` });
      assertUnauthorized(again, CHALLENGE.invalidToken);
    },
  },
  {
    label: 'a JWT naming a deleted user no longer acts for that account (cannot create projects: 403)',
    async run(env) {
      const victim = await env.freshUser('deleted');
      const token = env.jwtFor(victim.id, ['delete:users', 'write:projects']);
      const before = await env.send({
        method: 'POST',
        path: '/v2/projects',
        authorization: `Bearer ${token}`,
        body: { name: 'before' },
      });
      assert.equal(before.status, 201);
      assert.equal(
        (await env.send({ method: 'DELETE', path: `/v2/users/${victim.id}`, authorization: `Bearer ${token}` })).status,
        204,
      );
      const after = await env.send({
        method: 'POST',
        path: '/v2/projects',
        authorization: `Bearer ${token}`,
        body: { name: 'after' },
      });
      assertForbiddenCode(after);
    },
  },
]);
