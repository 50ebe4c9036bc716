import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { listApiRoutes, REPO_ROOT, SECURITY_TEST_FILES } from '../../test/support/api-routes.ts';

// Every API route has security coverage: its tag names a security test file, and that file runs
// the generated matrix (which, in turn, fails for a route of its tags that has no fixture).
describe('security coverage of the API routes', () => {
  const routes = listApiRoutes();

  it('lists every route the app serves (34 today, in /v2 and /oauth/applications)', () => {
    assert.ok(routes.length >= 34, `${routes.length} routes`);
    assert.equal(new Set(routes.map((r) => r.operationId)).size, routes.length, 'operationIds are unique');
    for (const r of routes) assert.match(r.path, /^\/(v2|oauth\/applications)(\/|$)/, r.label);
  });

  it("gives every route's tag a security test file", () => {
    const uncovered = routes
      .filter((r) => !Object.hasOwn(SECURITY_TEST_FILES, r.tag))
      .map((r) => `${r.label} (tag "${r.tag}")`);
    assert.deepEqual(
      uncovered,
      [],
      'routes whose tag has no entry in SECURITY_TEST_FILES (test/support/api-routes.ts)',
    );
  });

  it('lists only tags that have routes, each with a security test file that runs the generated matrix', () => {
    const tags = new Set(routes.map((r) => r.tag));
    for (const [tag, file] of Object.entries(SECURITY_TEST_FILES)) {
      assert.ok(tags.has(tag), `no route has the tag "${tag}"`);
      assert.match(file, /\.security\.test\.ts$/, file);
      const source = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
      assert.match(
        source,
        /securityMatrix\(\s*import\.meta\.url,/,
        `${file} runs securityMatrix(import.meta.url, ...)`,
      );
    }
  });
});
