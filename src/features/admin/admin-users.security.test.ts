import assert from 'node:assert/strict';
import {
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';

// /v2/admin/users: admin:all only (an admin's dashboard session, or a bearer credential carrying
// admin:all). A refused call changes nothing, so it may name bob; a successful one acts on a fresh
// account of its own (disabling bob would stop the other cases).

const target = async ({ env, succeeds }: RequestContext, opts: { twoFactor?: boolean } = {}) => {
  if (!succeeds) return env.bob.id;
  const fresh = await env.freshUser('admin-target');
  if (opts.twoFactor) {
    // TOTP on, as enrolment leaves it (what a reset turns off).
    const sealed = env.server.built.services.box.seal('JBSWY3DPEHPK3PXP');
    await env.server.db.updateTable('users').set({ totp_secret_enc: sealed }).where('id', '=', fresh.id).execute();
  }
  return fresh.id;
};
const action = (name: string, opts: { twoFactor?: boolean } = {}) => ({
  async request(ctx: RequestContext) {
    return { path: `/v2/admin/users/${await target(ctx, opts)}/${name}` };
  },
});

const routes: RouteFixtures = {
  searchAdminUsers: {
    request: () => ({ path: '/v2/admin/users?q=example' }),
    check(res) {
      assert.ok(Array.isArray(res.body!['data']));
    },
  },
  getAdminUser: {
    request: ({ env }: { env: MatrixEnv }) => ({ path: `/v2/admin/users/${env.bob.id}` }),
    check(res) {
      assert.equal(typeof res.body!['email'], 'string');
    },
  },
  disableAdminUser: action('disable'),
  enableAdminUser: action('enable'),
  resetAdminUserTwoFactor: action('reset-2fa', { twoFactor: true }),
  sendAdminUserPasswordReset: action('send-password-reset'),
  setAdminUserRoles: {
    async request(ctx) {
      return { path: `/v2/admin/users/${await target(ctx)}/roles`, body: { admin: false, auditor: true } };
    },
  },
};

securityMatrix(import.meta.url, routes, []);
