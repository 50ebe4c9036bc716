import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import {
  adminUserDetailSchema,
  adminUserListSchema,
  adminUserRolesSchema,
  adminUserSchema,
  adminUserSearchSchema,
} from '../../wire/admin-users.ts';
import type { UserAdminService } from './user-admin.service.ts';

/**
 * /v2/admin/users: what the console's Users section does, for scripts (admin:all only). Deleting
 * an account is DELETE /v2/users/{id}, the one deletion there is.
 */
export function adminUsersRoutes(admin: UserAdminService): RouteSpec[] {
  const auth = { scopes: ['admin:all'] };
  const tag = 'Administration';
  const action = (path: string, operationId: string, summary: string, run: 'disable' | 'enable' | 'resetTwoFactor') =>
    defineRoute({
      method: 'post',
      path: `/admin/users/:id/${path}`,
      operationId,
      summary,
      tag,
      auth,
      status: 200,
      response: adminUserSchema,
      handler: ({ principal, params, by }) => admin[run](principal, params.id, by),
    });
  return [
    defineRoute({
      method: 'get',
      path: '/admin/users',
      operationId: 'searchAdminUsers',
      summary: 'Find accounts by part of their email (any case), in email order',
      tag,
      auth,
      query: adminUserSearchSchema,
      status: 200,
      response: adminUserListSchema,
      handler: ({ principal, query }) => admin.search(principal, query),
    }),
    defineRoute({
      method: 'get',
      path: '/admin/users/:id',
      operationId: 'getAdminUser',
      summary: 'An account in full: roles, second factor, sessions, API keys, applications, authorized apps',
      tag,
      auth,
      status: 200,
      response: adminUserDetailSchema,
      handler: ({ principal, params }) => admin.get(principal, params.id),
    }),
    action(
      'disable',
      'disableAdminUser',
      'Disable an account: its sessions end and every credential of it is refused at once',
      'disable',
    ),
    action('enable', 'enableAdminUser', 'Enable a disabled account (its API keys work again)', 'enable'),
    action(
      'reset-2fa',
      'resetAdminUserTwoFactor',
      'Turn off the TOTP second factor and delete the recovery codes (passkeys stay)',
      'resetTwoFactor',
    ),
    defineRoute({
      method: 'post',
      path: '/admin/users/:id/send-password-reset',
      operationId: 'sendAdminUserPasswordReset',
      summary: 'Email the account a password-reset link',
      tag,
      auth,
      status: 204,
      handler: ({ principal, params, by }) => admin.sendPasswordReset(principal, params.id, by),
    }),
    defineRoute({
      method: 'put',
      path: '/admin/users/:id/roles',
      operationId: 'setAdminUserRoles',
      summary: 'Set the roles: admin, auditor (read-only console)',
      tag,
      auth,
      body: adminUserRolesSchema,
      status: 200,
      response: adminUserSchema,
      handler: ({ principal, params, body, by }) => admin.setRoles(principal, params.id, body, by),
    }),
  ];
}
