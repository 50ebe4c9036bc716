import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  assertForbidden,
  assertNotFound,
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /v2/apis: read:applications to read, write:applications to register, change and delete. An API
// belongs to its owner: another user's API, like an unknown id, is 403 unless the credential carries
// admin:all (which gets 404 for an unknown id).

const unique = () => randomUUID().slice(0, 8);

/** A new API owned by `owner`, registered through the API with the owner's own JWT. */
async function apiOf(env: MatrixEnv, owner: TestUser, name = 'Matrix API'): Promise<string> {
  const tag = unique();
  const res = await env.send({
    method: 'POST',
    path: '/v2/apis',
    authorization: `Bearer ${env.jwtFor(owner.id, ['write:applications'])}`,
    body: {
      name,
      identifier: `https://${tag}.api.example.com`,
      scopes: [{ name: `read:${tag}`, description: 'Read things' }],
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return String(res.body!['id']);
}

const apiPath = async ({ env, caller, target }: RequestContext) =>
  `/v2/apis/${await apiOf(env, target === 'self' ? caller : env.bob)}`;
const expectedOwner = ({ env, caller, target }: RequestContext) => (target === 'self' ? caller.id : env.bob.id);

/** Another user's API is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;

const routes: RouteFixtures = {
  listApis: {
    async request({ env }) {
      await Promise.all([apiOf(env, env.alice, 'listed: alice'), apiOf(env, env.bob, 'listed: bob')]);
      return { path: '/v2/apis' };
    },
    check(res, { env, caller }) {
      const owners = new Set((res.body!['data'] as { owner_id: string }[]).map((p) => p.owner_id));
      if (caller.isAdmin) assert.ok(owners.has(env.alice.id) && owners.has(env.bob.id), [...owners].join(','));
      else assert.deepEqual([...owners], [caller.id]);
    },
  },
  createApi: {
    request: ({ method }) => {
      const tag = unique();
      return {
        path: '/v2/apis',
        body: {
          name: `Created with ${method}`,
          identifier: `https://${tag}.created.example.com/api`,
          scopes: [{ name: `write:${tag}`, description: 'Write things' }],
          access_token_format: 'jwt',
          access_token_ttl: 600,
        },
      };
    },
    check(res, { caller, method }) {
      assert.match(String(res.body!['id']), /^api_/);
      assert.equal(res.body!['owner_id'], caller.id);
      assert.equal(res.body!['name'], `Created with ${method}`);
      assert.equal(res.body!['access_token_format'], 'jwt');
      assert.equal(res.body!['access_token_ttl'], 600);
    },
  },
  getApi: {
    owned,
    request: async (ctx) => ({ path: await apiPath(ctx) }),
    check(res, ctx) {
      assert.equal(res.body!['owner_id'], expectedOwner(ctx));
    },
  },
  getApiMetadata: {
    owned,
    request: async (ctx) => ({ path: `${await apiPath(ctx)}/metadata` }),
    check(res, { env }) {
      assert.match(String(res.body!['resource']), /^https:\/\/[a-f0-9-]+\.api\.example\.com$/);
      assert.deepEqual(res.body!['authorization_servers'], [env.server.url]);
      assert.deepEqual(res.body!['bearer_methods_supported'], ['header']);
    },
  },
  updateApi: {
    owned,
    request: async (ctx) => ({ path: await apiPath(ctx), body: { name: `Renamed with ${ctx.method}` } }),
    check(res, ctx) {
      assert.equal(res.body!['name'], `Renamed with ${ctx.method}`);
      assert.equal(res.body!['owner_id'], expectedOwner(ctx));
    },
  },
  deleteApi: {
    owned,
    request: async (ctx) => ({ path: await apiPath(ctx) }),
    check(res) {
      assert.equal(res.body, null);
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: "a refused PATCH or DELETE of another user's API changes nothing",
    async run(env) {
      const path = `/v2/apis/${await apiOf(env, env.bob, 'bob keeps this')}`;
      const alice = `Bearer ${await env.token('api_key', env.alice, ['read:applications', 'write:applications'])}`;
      const patch = await env.send({ method: 'PATCH', path, authorization: alice, body: { name: 'stolen' } });
      assertForbidden(patch);
      assertForbidden(await env.send({ method: 'DELETE', path, authorization: alice }));
      const res = await env.send({
        method: 'GET',
        path,
        authorization: `Bearer ${env.jwtFor(env.bob.id, ['read:applications'])}`,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body!['name'], 'bob keeps this');
    },
  },
  {
    label: 'an unknown API id is 403 with the right scope (as another user’s is), 404 with admin:all',
    async run(env) {
      const path = '/v2/apis/api_doesnotexist00000000';
      const alice = `Bearer ${await env.token('api_key', env.alice, ['read:applications'])}`;
      assertForbidden(await env.send({ method: 'GET', path, authorization: alice }));
      const admin = `Bearer ${await env.token('api_key', env.admin, ['admin:all'])}`;
      assertNotFound(await env.send({ method: 'GET', path, authorization: admin }));
    },
  },
]);
