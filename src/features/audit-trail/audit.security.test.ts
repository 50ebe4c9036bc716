import assert from 'node:assert/strict';
import { securityMatrix, type RouteFixtures } from '../../../test/support/security-matrix.ts';

// /v2/admin/audit: the whole audit trail, for admin:all only (every other scope is 403
// insufficient_scope admin:all, a session of a non-admin too); the generated matrix proves it for
// every credential method.

const routes: RouteFixtures = {
  listAuditEvents: {
    request: () => ({ path: '/v2/admin/audit?limit=5' }),
    check(res) {
      const data = res.body!['data'] as unknown[];
      assert.ok(Array.isArray(data) && data.length <= 5);
      assert.ok('next_before' in res.body!);
    },
  },
};

securityMatrix(import.meta.url, routes);
