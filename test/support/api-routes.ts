/**
 * Every JSON API route, listed from the route specs the app is built from (`apiRouteGroups`), and
 * the security test file that covers each API tag. The security matrix generates its cases from
 * this list; `src/api/security-coverage.test.ts` fails when a route's tag has no file here, and
 * each file's matrix fails when a route of its tags has no fixture, so a new route cannot go
 * untested.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiRouteGroups } from '../../src/app.ts';
import type { RouteAuth } from '../../src/wire/route.ts';

export interface ApiRoute {
  operationId: string;
  tag: string;
  /** Upper case, e.g. PATCH. */
  method: string;
  /** Koa style, with its prefix: `/v2/projects/:id`. */
  path: string;
  /** e.g. `PATCH /v2/projects/:id` */
  label: string;
  auth: RouteAuth;
  /** The status of a successful call. */
  status: number;
}

/**
 * Route specs keep their services only for their handlers, which listing never calls: any use of
 * this stand-in is a bug in the listing, and says so.
 */
const unused: never = new Proxy(
  {},
  {
    get(_target, name) {
      throw new Error(`listing API routes must not use a service (touched ${String(name)})`);
    },
  },
) as never;

export function listApiRoutes(): ApiRoute[] {
  const groups = apiRouteGroups(new Proxy({}, { get: () => unused }) as never);
  return groups.flatMap(({ prefix, specs }) =>
    specs.map((spec) => {
      const fullPath = `${prefix}${spec.path}`.replace(/(.)\/$/, '$1');
      const method = spec.method.toUpperCase();
      return {
        operationId: spec.operationId,
        tag: spec.tag,
        method,
        path: fullPath,
        label: `${method} ${fullPath}`,
        auth: spec.auth,
        status: spec.status,
      };
    }),
  );
}

/** The repository root, for paths in SECURITY_TEST_FILES. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The one security test file of each API tag (paths from the repository root). */
export const SECURITY_TEST_FILES: Record<string, string> = {
  Authentication: 'src/api/v2/auth-test.security.test.ts',
  Users: 'src/features/users/users.security.test.ts',
  Projects: 'src/features/projects/projects.security.test.ts',
  'API keys': 'src/features/api-keys/api-keys.security.test.ts',
  Consents: 'src/features/consents/consents.security.test.ts',
  Webhooks: 'src/features/webhooks/webhooks.security.test.ts',
  Applications: 'src/features/applications/applications.security.test.ts',
  'Dynamic registration': 'src/features/registration/registration.security.test.ts',

  APIs: 'src/features/apis/apis.security.test.ts',
  Administration: 'src/features/admin/admin-users.security.test.ts',
  Audit: 'src/features/audit-trail/audit.security.test.ts',
  'Admin console': 'src/features/admin/admin-resources.security.test.ts',
};

/** The tags a security test file covers, from its `import.meta.url`. */
export function tagsCoveredBy(fileUrl: string): string[] {
  const rel = path.relative(REPO_ROOT, fileURLToPath(fileUrl)).split(path.sep).join('/');
  return Object.entries(SECURITY_TEST_FILES)
    .filter(([, file]) => file === rel)
    .map(([tag]) => tag);
}
