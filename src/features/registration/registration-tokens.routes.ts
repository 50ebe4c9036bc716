import { listOf } from '../../wire/common.ts';
import {
  createRegistrationTokenSchema,
  issuedRegistrationTokenSchema,
  registrationTokenViewSchema,
} from '../../wire/registration.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { RegistrationService } from './registration.service.ts';

/**
 * /v2/admin/registration-tokens: the initial access tokens (RFC 7591 §3) that DYNAMIC_REGISTRATION=token
 * asks for, issued and withdrawn by admins. The admin who issues one owns the clients registered with it.
 */
export function registrationTokensRoutes(registration: RegistrationService): RouteSpec[] {
  const auth = { scopes: ['admin:all'] };
  const tag = 'Dynamic registration';
  return [
    defineRoute({
      method: 'post',
      path: '/admin/registration-tokens',
      operationId: 'createRegistrationToken',
      summary: 'Issue an initial access token for dynamic client registration (shown once)',
      tag,
      auth,
      body: createRegistrationTokenSchema,
      status: 201,
      response: issuedRegistrationTokenSchema,
      secret: true,
      handler: ({ principal, body }) => registration.issueToken(principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/registration-tokens',
      operationId: 'listRegistrationTokens',
      summary: 'List the initial access tokens (never the tokens themselves)',
      tag,
      auth,
      status: 200,
      response: listOf(registrationTokenViewSchema),
      handler: async ({ principal }) => ({ data: await registration.listTokens(principal) }),
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/registration-tokens/:id',
      operationId: 'deleteRegistrationToken',
      summary: 'Withdraw an initial access token (clients registered with it stay)',
      tag,
      auth,
      status: 204,
      handler: ({ principal, params }) => registration.deleteToken(principal, params.id),
    }),
  ];
}
