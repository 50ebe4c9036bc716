import assert from 'node:assert/strict';
import {
  assertForbidden,
  assertForbiddenCode,
  assertNotFound,
  assertUnauthorized,
  BEARER_METHODS,
  CHALLENGE,
  securityMatrix,
  type MatrixEnv,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /v2/consents: the applications an account authorized, managed from a dashboard session or with
// admin:all (a credential without it is 403 insufficient_scope admin:all). A consent is addressed
// by client id within the caller's own account: one the caller has not given (another user's, or
// none at all) is 403 with the documented body; admin:all finds none of its own there, so 404.

interface Consent {
  client_id: string;
  scopes: string[];
}

/** Whether an access token is still accepted (it dies with the consent it was issued under). */
const works = async (env: MatrixEnv, token: string) =>
  (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${token}` })).status === 200;

/**
 * The consented application the current case's request names. Cases run one at a time, so `check`
 * reads the one its own request chose.
 */
let current: { clientId: string; token: string } | undefined;

/** One consented application per account for the cases that leave it in place (lists, refusals). */
const shared = new Map<string, Promise<{ clientId: string; token: string }>>();
function sharedAppOf(env: MatrixEnv, owner: TestUser) {
  let app = shared.get(owner.id);
  if (!app) shared.set(owner.id, (app = env.authorizedApp(owner, ['read:users'])));
  return app;
}

/** Another user's consent is 403 (the documented ownership rule); admin:all has none of its own: 404. */
const owned = { othersAre: 'forbidden', adminReachesOthers: false } as const;

const routes: RouteFixtures = {
  listConsents: {
    async request({ env, caller }) {
      current = await sharedAppOf(env, caller);
      return { path: '/v2/consents' };
    },
    check(res) {
      const data = res.body!['data'] as Consent[];
      const mine = data.find((c) => c.client_id === current!.clientId);
      assert.ok(mine, `the caller's authorized application is listed: ${JSON.stringify(data)}`);
      assert.deepEqual(mine.scopes, ['read:users']);
    },
  },
  revokeConsent: {
    owned,
    async request({ env, caller, target, succeeds }) {
      const owner = target === 'self' ? caller : env.bob;
      // A successful revocation consumes its consent (and its tokens): a new application each time,
      // so no other case's tokens go with it.
      current = succeeds ? await env.authorizedApp(owner, ['read:users']) : await sharedAppOf(env, owner);
      return { path: `/v2/consents/${current.clientId}` };
    },
    async check(res, { env }) {
      assert.equal(res.body, null);
      // The application's tokens died with the consent.
      assert.equal(await works(env, current!.token), false, 'the revoked application’s token still works');
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: "a refused revocation of another user's consent leaves it and its tokens working",
    async run(env) {
      const { clientId, token } = await env.authorizedApp(env.bob, ['read:users']);
      for (const method of BEARER_METHODS) {
        const auth = `Bearer ${await env.token(method, env.admin, ['admin:all'])}`;
        assertNotFound(await env.send({ method: 'DELETE', path: `/v2/consents/${clientId}`, authorization: auth }));
      }
      const cookie = env.alice.browser.jar.header();
      assertForbidden(
        await env.send({ method: 'DELETE', path: `/v2/consents/${clientId}`, headers: { Cookie: cookie } }),
      );
      assert.equal(await works(env, token), true);
      const listed = (await (await env.bob.browser.get('/v2/consents')).json()) as { data: Consent[] };
      assert.ok(listed.data.some((c) => c.client_id === clientId));
    },
  },
  {
    label: "another user's consents are not listed, whoever asks",
    async run(env) {
      const { clientId } = await env.authorizedApp(env.bob, ['read:users']);
      for (const method of BEARER_METHODS) {
        const res = await env.send({
          method: 'GET',
          path: '/v2/consents',
          authorization: `Bearer ${await env.token(method, env.admin, ['admin:all'])}`,
        });
        assert.equal(res.status, 200);
        assert.ok(!(res.body!['data'] as Consent[]).some((c) => c.client_id === clientId), method);
      }
    },
  },
  {
    label: 'a consent revoked from the dashboard session ends the application’s access at once (401 invalid_token)',
    async run(env) {
      const { clientId, token } = await env.authorizedApp(env.alice, ['read:users']);
      assert.equal(await works(env, token), true);
      const res = await env.send({
        method: 'DELETE',
        path: `/v2/consents/${clientId}`,
        headers: { Cookie: env.alice.browser.jar.header() },
      });
      assert.equal(res.status, 204);
      assertUnauthorized(
        await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${token}` }),
        CHALLENGE.invalidToken,
      );
    },
  },
  {
    label: 'a JWT with admin:all whose sub is not a Latchkey account cannot list or revoke consents (403 FORBIDDEN)',
    async run(env) {
      const auth = `Bearer ${env.jwtFor('user_123', ['admin:all'])}`;
      assertForbiddenCode(await env.send({ method: 'GET', path: '/v2/consents', authorization: auth }));
      assertForbiddenCode(
        await env.send({ method: 'DELETE', path: '/v2/consents/app_doesnotexist', authorization: auth }),
      );
    },
  },
]);
