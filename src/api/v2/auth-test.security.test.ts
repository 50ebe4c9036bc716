import assert from 'node:assert/strict';
import { securityMatrix, type RouteFixtures } from '../../../test/support/security-matrix.ts';

// GET /v2/auth/test: any valid credential passes, whatever its scopes; everything else is refused
// with the documented 401 (or 403 for an API key used outside its IP allowlist). The dashboard
// session works too (method "session").
const routes: RouteFixtures = {
  testAuth: {
    request: () => ({ path: '/v2/auth/test' }),
    check(res, { method, caller }) {
      assert.equal(res.body!['valid'], true);
      assert.equal(res.body!['method'], method);
      assert.equal(res.body!['subject'], caller.id);
      assert.ok(Array.isArray(res.body!['scopes']));
      assert.equal(res.headers.get('x-api-version'), '2.0');
    },
  },
};

securityMatrix(import.meta.url, routes, [
  {
    label: 'a JWT whose sub is not a Latchkey account still authenticates (no scope needed)',
    async run(env) {
      const res = await env.send({
        method: 'GET',
        path: '/v2/auth/test',
        authorization: `Bearer ${env.jwtFor('user_123', [])}`,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body!['subject'], 'user_123');
      assert.deepEqual(res.body!['scopes'], []);
    },
  },
  {
    label: 'the scopes reported are those the credential carries (API key)',
    async run(env) {
      const key = await env.token('api_key', env.alice, ['read:projects', 'write:projects']);
      const res = await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${key}` });
      assert.equal(res.status, 200);
      assert.deepEqual([...(res.body!['scopes'] as string[])].sort(), ['read:projects', 'write:projects']);
    },
  },
]);
