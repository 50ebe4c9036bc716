import assert from 'node:assert/strict';
import { securityMatrix, type MatrixEnv, type RouteFixtures } from '../../../test/support/security-matrix.ts';

// /v2/admin/applications, /v2/admin/api-keys and /v2/admin/signing-keys/rotate: admin:all only (an
// admin's dashboard session, or a bearer credential carrying admin:all). Listings never show a
// secret: no client secret, no key, no private key material.

/** An application of bob's, for a suspension to act on. */
const bobsApp = async (env: MatrixEnv) => (await env.make.app(env.bob, { scopes: [] })).client_id;

const routes: RouteFixtures = {
  adminListApplications: {
    request: () => ({ path: '/v2/admin/applications?limit=5' }),
    check(res) {
      for (const a of res.body!['data'] as Record<string, unknown>[]) {
        assert.equal(a['client_secret'], undefined);
        assert.equal(a['secret_hash'], undefined);
      }
    },
  },
  suspendApplication: {
    async request({ env, succeeds }) {
      return { path: `/v2/admin/applications/${succeeds ? await bobsApp(env) : 'app_someone_elses'}/suspend` };
    },
    check(res) {
      assert.ok(res.body!['suspended_at']);
    },
  },
  unsuspendApplication: {
    async request({ env, succeeds }) {
      return { path: `/v2/admin/applications/${succeeds ? await bobsApp(env) : 'app_someone_elses'}/unsuspend` };
    },
    check(res) {
      assert.equal(res.body!['suspended_at'], null);
    },
  },
  adminListApiKeys: {
    request: () => ({ path: '/v2/admin/api-keys?limit=5' }),
    check(res) {
      for (const k of res.body!['data'] as Record<string, unknown>[]) {
        assert.equal(k['key'], undefined);
        assert.equal(k['secret_hash'], undefined);
      }
    },
  },
  rotateSigningKeys: {
    request: () => ({ path: '/v2/admin/signing-keys/rotate' }),
    check(res) {
      assert.equal(res.body!['signs_after'], 'restart');
      assert.equal(JSON.stringify(res.body).includes('"d"'), false, 'no private key material');
    },
  },
};

securityMatrix(import.meta.url, routes);
