import {
  adminApiKeyPageSchema,
  adminApiKeysQuerySchema,
  adminApplicationPageSchema,
  adminApplicationSchema,
  adminApplicationsQuerySchema,
  signingKeyRotationSchema,
} from '../../wire/admin-resources.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { ApplicationSuspension } from '../applications/suspension.service.ts';
import type { ApiKeysAdmin } from '../api-keys/api-keys-admin.service.ts';
import type { SigningKeysConsole } from '../../oidc/signing-keys.service.ts';

const auth = { scopes: ['admin:all'] };
const tag = 'Admin console';

/**
 * /v2/admin: what the operators' console does, for admin:all credentials. Revoking any key is
 * `POST /v2/api-keys/{id}/revoke` (admin:all acts on every key).
 */
export function adminResourcesRoutes(deps: {
  applicationSuspension: ApplicationSuspension;
  apiKeysAdmin: ApiKeysAdmin;
  signingKeys: SigningKeysConsole;
}): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/applications',
      operationId: 'adminListApplications',
      summary: 'Every application, newest first (search by name or client_id; keyset pages)',
      tag,
      auth,
      query: adminApplicationsQuerySchema,
      status: 200,
      response: adminApplicationPageSchema,
      handler: ({ query }) => deps.applicationSuspension.list(query),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/applications/:client_id/suspend',
      operationId: 'suspendApplication',
      summary: 'Suspend an application: refused everywhere at once, its grants kept for an unsuspension',
      tag,
      auth,
      status: 200,
      response: adminApplicationSchema,
      handler: ({ principal, params, by }) => deps.applicationSuspension.suspend(principal, params.client_id, by),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/applications/:client_id/unsuspend',
      operationId: 'unsuspendApplication',
      summary: 'Unsuspend an application: it and the grants it held work again',
      tag,
      auth,
      status: 200,
      response: adminApplicationSchema,
      handler: ({ principal, params, by }) => deps.applicationSuspension.unsuspend(principal, params.client_id, by),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/api-keys',
      operationId: 'adminListApiKeys',
      summary: 'Every live API key, newest first (filter by owner email; keyset pages)',
      tag,
      auth,
      query: adminApiKeysQuerySchema,
      status: 200,
      response: adminApiKeyPageSchema,
      handler: ({ query }) => deps.apiKeysAdmin.list(query),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/signing-keys/rotate',
      operationId: 'rotateSigningKeys',
      summary: 'Rotate the signing keys (the new key signs once each running server restarts)',
      tag,
      auth,
      status: 200,
      response: signingKeyRotationSchema,
      handler: ({ principal, by }) => deps.signingKeys.rotate(principal, by),
    }),
  ];
}
