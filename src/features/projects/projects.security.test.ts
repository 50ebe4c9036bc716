import assert from 'node:assert/strict';
import {
  assertForbidden,
  assertForbiddenCode,
  assertNotFound,
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /v2/projects: read:projects to read, write:projects to create/update/delete. A project belongs to
// its owner: another user's project, like an unknown id, is 403 unless the credential carries
// admin:all (which gets 404 for an unknown id).

/** A new project owned by `owner`, created through the API with the owner's own JWT. */
async function projectOf(env: MatrixEnv, owner: TestUser, name = 'Matrix project'): Promise<string> {
  const res = await env.send({
    method: 'POST',
    path: '/v2/projects',
    authorization: `Bearer ${env.jwtFor(owner.id, ['write:projects'])}`,
    body: { name },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return String(res.body!['id']);
}

/** A project of the caller's (self) or of bob's (other): fresh each time, so deletes never collide. */
const projectPath = async ({ env, caller, target }: RequestContext) =>
  `/v2/projects/${await projectOf(env, target === 'self' ? caller : env.bob)}`;
const expectedOwner = ({ env, caller, target }: RequestContext) => (target === 'self' ? caller.id : env.bob.id);

/** Another user's project is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;

const routes: RouteFixtures = {
  listProjects: {
    async request({ env }) {
      await Promise.all([projectOf(env, env.alice, 'listed: alice'), projectOf(env, env.bob, 'listed: bob')]);
      return { path: '/v2/projects' };
    },
    check(res, { env, caller }) {
      const owners = new Set((res.body!['data'] as { owner_id: string }[]).map((p) => p.owner_id));
      if (caller.isAdmin) {
        // admin:all sees every owner's projects.
        assert.ok(owners.has(env.alice.id) && owners.has(env.bob.id), [...owners].join(','));
      } else {
        // Anyone else sees only their own.
        assert.deepEqual([...owners], [caller.id]);
      }
    },
  },
  createProject: {
    request: ({ method }) => ({
      path: '/v2/projects',
      body: { name: `Created with ${method}`, description: 'by the security matrix' },
    }),
    check(res, { caller, method }) {
      assert.match(String(res.body!['id']), /^prj_/);
      assert.equal(res.body!['owner_id'], caller.id);
      assert.equal(res.body!['name'], `Created with ${method}`);
    },
  },
  getProject: {
    owned,
    request: async (ctx) => ({ path: await projectPath(ctx) }),
    check(res, ctx) {
      assert.equal(res.body!['owner_id'], expectedOwner(ctx));
    },
  },
  updateProject: {
    owned,
    request: async (ctx) => ({ path: await projectPath(ctx), body: { name: `Renamed with ${ctx.method}` } }),
    check(res, ctx) {
      assert.equal(res.body!['name'], `Renamed with ${ctx.method}`);
      assert.equal(res.body!['owner_id'], expectedOwner(ctx));
    },
  },
  deleteProject: {
    owned,
    request: async (ctx) => ({ path: await projectPath(ctx) }),
    check(res) {
      assert.equal(res.body, null);
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: 'a JWT whose sub is not a Latchkey user id cannot create projects -> 403 FORBIDDEN',
    async run(env) {
      for (const scopes of [['write:projects'], ['admin:all']]) {
        const res = await env.send({
          method: 'POST',
          path: '/v2/projects',
          authorization: `Bearer ${env.jwtFor('user_123', scopes)}`,
          body: { name: 'Nope' },
        });
        assertForbiddenCode(res);
      }
    },
  },
  {
    label: "a JWT whose sub is not a Latchkey user id lists no projects, and cannot read or change another user's",
    async run(env) {
      const auth = `Bearer ${env.jwtFor('user_123', ['read:projects', 'write:projects'])}`;
      const list = await env.send({ method: 'GET', path: '/v2/projects', authorization: auth });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body!['data'], []);
      const path = `/v2/projects/${await projectOf(env, env.alice)}`;
      for (const [method, body] of [
        ['GET', undefined],
        ['PATCH', { name: 'x' }],
        ['DELETE', undefined],
      ] as const) {
        const res = await env.send({ method, path, authorization: auth, body });
        assert.equal(res.status, 403, `${method}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, {
          error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' },
        });
      }
    },
  },
  {
    label: "a refused PATCH or DELETE of another user's project changes nothing",
    async run(env) {
      const path = `/v2/projects/${await projectOf(env, env.bob, 'bob keeps this')}`;
      const alice = `Bearer ${await env.token('api_key', env.alice, ['read:projects', 'write:projects'])}`;
      assert.equal(
        (await env.send({ method: 'PATCH', path, authorization: alice, body: { name: 'stolen' } })).status,
        403,
      );
      assert.equal((await env.send({ method: 'DELETE', path, authorization: alice })).status, 403);
      const bob = `Bearer ${env.jwtFor(env.bob.id, ['read:projects'])}`;
      const res = await env.send({ method: 'GET', path, authorization: bob });
      assert.equal(res.status, 200);
      assert.equal(res.body!['name'], 'bob keeps this');
    },
  },
  {
    label:
      "an unknown project id is 403 with the right scope (as another user's is), 404 with admin:all, and 403 " +
      'insufficient_scope without the scope',
    async run(env) {
      const path = '/v2/projects/prj_doesnotexist00000000';
      assertForbidden(
        await env.send({
          method: 'GET',
          path,
          authorization: `Bearer ${await env.token('api_key', env.alice, ['read:projects'])}`,
        }),
      );
      assertNotFound(
        await env.send({
          method: 'GET',
          path,
          authorization: `Bearer ${await env.token('api_key', env.admin, ['admin:all'])}`,
        }),
      );
      const res = await env.send({
        method: 'GET',
        path,
        authorization: `Bearer ${await env.token('api_key', env.alice, ['write:projects'])}`,
      });
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer error="insufficient_scope", scope="read:projects"');
    },
  },
]);
