import { principalOf } from '../../auth/principal.ts';
import { defineRoute, listOf, type RouteSpec } from '../../api/route-spec.ts';
import { consentViewSchema, type ConsentsService } from './consents.service.ts';

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
      handler: async (ctx) => ({ data: await consents.list(principalOf(ctx)) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/consents/:clientId',
      operationId: 'revokeConsent',
      summary: 'Revoke an application and its tokens',
      tag,
      auth,
      status: 204,
      handler: (ctx) => consents.revoke(principalOf(ctx), ctx.params['clientId']!),
    }),
  ];
}
