import assert from 'node:assert/strict';
import { registerApp } from '../../../test/support/http.ts';
import {
  assertForbidden,
  assertForbiddenCode,
  BEARER_METHODS,
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /oauth/applications with bearer credentials: write:applications to register and change,
// read:applications to read, or the dashboard session. An application is its owner's: another
// user's is 403 with the documented body, as a made-up client id is, unless the credential carries
// admin:all (which gets it, or 404 for one that does not exist).

const DOCUMENTED_APP = {
  name: 'My Application',
  redirect_uris: ['https://myapp.com/callback'],
  scopes: ['read:users', 'write:projects'],
};
/**
 * The generated cases' application asks only for a scope every allowed caller holds (the required
 * write:applications), so what they prove is the route's guard, not the rule that an application's
 * scopes never exceed its registrant's (the specific cases below cover that).
 */
const MATRIX_APP = { ...DOCUMENTED_APP, name: 'Managed by the matrix', scopes: ['write:applications'] };

/** A fresh application of `owner`'s, registered from the owner's dashboard session. */
const appOf = async (owner: TestUser) => (await registerApp(owner.browser, MATRIX_APP)).client_id;
const appPath = async ({ env, caller, target }: RequestContext, suffix = '') =>
  `/oauth/applications/${await appOf(target === 'self' ? caller : env.bob)}${suffix}`;

/** Another user's application is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;

const routes: RouteFixtures = {
  createApplication: {
    request: () => ({ path: '/oauth/applications', body: MATRIX_APP }),
    check(res) {
      assert.match(String(res.body!['client_id']), /^app_/);
      assert.match(String(res.body!['client_secret']), /^lkcs_/);
      assert.deepEqual(res.body!['scopes'], MATRIX_APP.scopes);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  listApplications: {
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
  getApplication: {
    owned,
    request: async (ctx) => ({ path: await appPath(ctx) }),
    check(res) {
      assert.equal(res.body!['client_secret'], undefined);
    },
  },
  updateApplication: {
    owned,
    request: async (ctx) => ({ path: await appPath(ctx), body: { name: `Renamed with ${ctx.method}` } }),
    check(res, { method }) {
      assert.equal(res.body!['name'], `Renamed with ${method}`);
    },
  },
  deleteApplication: {
    owned,
    request: async (ctx) => ({ path: await appPath(ctx) }),
  },
  reviewApplication: {
    owned,
    async request(ctx) {
      // A self-registered client of the target's (as one registered with their initial access token is).
      const path = await appPath(ctx);
      const clientId = path.slice('/oauth/applications/'.length);
      await ctx.env.server.db
        .updateTable('applications')
        .set({ registration: 'dynamic', review_state: 'pending' })
        .where('client_id', '=', clientId)
        .execute();
      return { path: `${path}/review`, body: { decision: 'approve' } };
    },
    check(res) {
      assert.equal(res.body!['registration'], 'dynamic');
      assert.equal(res.body!['review_state'], 'approved');
    },
  },
  rotateApplicationSecret: {
    owned,
    request: async (ctx) => ({ path: await appPath(ctx, '/secret') }),
    check(res) {
      assert.match(String(res.body!['client_secret']), /^lkcs_/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
};

async function bearer(env: MatrixEnv, method: (typeof BEARER_METHODS)[number], owner: TestUser, scopes: string[]) {
  return `Bearer ${await env.token(method, owner, scopes)}`;
}

securityMatrix(import.meta.url, routes, [
  {
    label: 'the documented registration body, by a credential holding its scopes: 201 with those scopes',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const auth = await bearer(env, method, env.alice, ['write:applications', ...DOCUMENTED_APP.scopes]);
        const res = await env.send({
          method: 'POST',
          path: '/oauth/applications',
          authorization: auth,
          body: DOCUMENTED_APP,
        });
        assert.equal(res.status, 201, `${method}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body!['scopes'], DOCUMENTED_APP.scopes);
      }
    },
  },
  {
    label:
      'the application registered with a bearer credential belongs to its account (listed for it, refused to others)',
    async run(env) {
      for (const method of BEARER_METHODS) {
        const created = await env.send({
          method: 'POST',
          path: '/oauth/applications',
          authorization: await bearer(env, method, env.alice, ['write:applications']),
          body: MATRIX_APP,
        });
        assert.equal(created.status, 201, method);
        const id = String(created.body!['client_id']);
        const mine = await env.send({
          method: 'GET',
          path: '/oauth/applications',
          authorization: await bearer(env, method, env.alice, ['read:applications']),
        });
        assert.ok(
          (mine.body!['data'] as { client_id: string }[]).some((a) => a.client_id === id),
          method,
        );
        const bobs = await env.send({
          method: 'GET',
          path: `/oauth/applications/${id}`,
          authorization: await bearer(env, method, env.bob, ['read:applications']),
        });
        assertForbidden(bobs);
      }
    },
  },
  {
    label: 'a JWT whose sub is not a Latchkey account cannot register applications (403 FORBIDDEN)',
    async run(env) {
      for (const scopes of [['write:applications'], ['admin:all']]) {
        const res = await env.send({
          method: 'POST',
          path: '/oauth/applications',
          authorization: `Bearer ${env.jwtFor('user_123', scopes)}`,
          body: DOCUMENTED_APP,
        });
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
          body: { ...DOCUMENTED_APP, scopes: ['read:users', 'admin:all'] },
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
      assertForbidden(
        await env.send({
          method: 'PATCH',
          path: `/oauth/applications/${id}`,
          authorization: auth,
          body: { name: 'stolen' },
        }),
      );
      assertForbidden(await env.send({ method: 'DELETE', path: `/oauth/applications/${id}`, authorization: auth }));
      assertForbidden(
        await env.send({ method: 'POST', path: `/oauth/applications/${id}/secret`, authorization: auth }),
      );
      const res = await env.send({
        method: 'GET',
        path: `/oauth/applications/${id}`,
        authorization: await bearer(env, 'jwt', env.bob, ['read:applications']),
      });
      assert.equal(res.status, 200);
      assert.equal(res.body!['name'], 'Managed by the matrix');
    },
  },
]);
