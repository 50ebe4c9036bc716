import assert from 'node:assert/strict';
import { securityMatrix, type MatrixEnv, type RouteFixtures } from '../../../test/support/security-matrix.ts';

// /v2/admin/registration-tokens: the initial access tokens of DYNAMIC_REGISTRATION=token, admin:all
// only (a dashboard session of an admin, or a bearer credential carrying admin:all). A token is
// shown once, when issued; listing never shows one.

/** A token issued by the admin, for a deletion to consume. */
async function issued(env: MatrixEnv): Promise<string> {
  const res = await env.api(
    'POST',
    '/v2/admin/registration-tokens',
    await env.token('api_key', env.admin, ['admin:all']),
    {},
  );
  assert.equal(res.status, 201);
  return String((res.body as { id: string }).id);
}

const routes: RouteFixtures = {
  createRegistrationToken: {
    request: () => ({ path: '/v2/admin/registration-tokens', body: { max_uses: 3, expires_in: 3600 } }),
    check(res) {
      assert.match(String(res.body!['token']), /^lkiat_/);
      assert.equal(res.body!['max_uses'], 3);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  listRegistrationTokens: {
    request: () => ({ path: '/v2/admin/registration-tokens' }),
    check(res) {
      for (const t of res.body!['data'] as Record<string, unknown>[]) assert.equal(t['token'], undefined);
    },
  },
  deleteRegistrationToken: {
    async request({ env, succeeds }) {
      return { path: `/v2/admin/registration-tokens/${succeeds ? await issued(env) : 'iat_someone_elses'}` };
    },
  },
};

const register = (env: MatrixEnv, token: string) =>
  env.send({
    method: 'POST',
    path: '/oauth/register',
    authorization: `Bearer ${token}`,
    body: { redirect_uris: ['https://client.example/cb'], token_endpoint_auth_method: 'none' },
  });

securityMatrix(
  import.meta.url,
  routes,
  [
    {
      label: 'a deleted initial access token registers nothing more; a live one does',
      async run(env) {
        const admin = await env.token('api_key', env.admin, ['admin:all']);
        const issue = async () =>
          (await env.api('POST', '/v2/admin/registration-tokens', admin, {})).body as {
            id: string;
            token: string;
          };
        const live = await issue();
        assert.equal((await register(env, live.token)).status, 201);
        const withdrawn = await issue();
        assert.equal((await env.api('DELETE', `/v2/admin/registration-tokens/${withdrawn.id}`, admin)).status, 204);
        const refused = await register(env, withdrawn.token);
        assert.equal(refused.status, 401);
        assert.equal(refused.body!['error'], 'invalid_token');
      },
    },
  ],
  { env: { DYNAMIC_REGISTRATION: 'token' } },
);
