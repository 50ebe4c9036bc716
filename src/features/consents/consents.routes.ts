import { listOf } from '../../wire/common.ts';
import { consentViewSchema } from '../../wire/consents.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { ConsentsService } from './consents.service.ts';

const auth = { sessionOrAdmin: true } as const;
const tag = 'Consents';

/** /v2/consents: the applications a user authorized; revoking one revokes its tokens. */
export function consentsRoutes(consents: ConsentsService): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/consents',
      operationId: 'listConsents',
      summary: 'Applications you authorized',
      tag,
      auth,
      status: 200,
      response: listOf(consentViewSchema),
      handler: async ({ principal }) => ({ data: await consents.list(principal) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/consents/:clientId',
      operationId: 'revokeConsent',
      summary: 'Revoke an application and its tokens',
      tag,
      auth,
      status: 204,
      handler: ({ principal, params, by }) => consents.revoke(principal, params.clientId, by),
    }),
  ];
}
