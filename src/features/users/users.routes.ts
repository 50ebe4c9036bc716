import { principalOf } from '../../auth/principal.ts';
import { defineRoute, type RouteSpec } from '../../api/route-spec.ts';
import {
  createUserSchema,
  listQuerySchema,
  updateUserSchema,
  userListSchema,
  userViewSchema,
  type UsersService,
} from './users.service.ts';

const tag = 'Users';

/** /v2/users: a user reads and changes themselves (`me`); admin:all reaches everyone. */
export function usersRoutes(users: UsersService): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'List users (yourself; everyone with admin:all)',
      tag,
      auth: { scopes: ['read:users'] },
      query: listQuerySchema,
      status: 200,
      response: userListSchema,
      handler: (ctx) => users.list(principalOf(ctx), ctx.query),
    }),
    // Creating accounts for others is administration.
    defineRoute({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user (admin:all)',
      tag,
      auth: { scopes: ['admin:all'] },
      body: createUserSchema,
      status: 201,
      response: userViewSchema,
      handler: (ctx) => users.create(ctx.request.body),
    }),
    defineRoute({
      method: 'get',
      path: '/users/:id',
      operationId: 'getUser',
      summary: 'Get a user (`me` for yourself)',
      tag,
      auth: { scopes: ['read:users'] },
      status: 200,
      response: userViewSchema,
      handler: (ctx) => users.get(principalOf(ctx), ctx.params['id']!),
    }),
    defineRoute({
      method: 'patch',
      path: '/users/:id',
      operationId: 'updateUser',
      summary: 'Update a profile (name; is_admin with admin:all). Password and email are changed in the browser only',
      tag,
      auth: { scopes: ['write:users'] },
      body: updateUserSchema,
      status: 200,
      response: userViewSchema,
      handler: (ctx) => users.update(principalOf(ctx), ctx.params['id']!, ctx.request.body),
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id',
      operationId: 'deleteUser',
      summary: 'Delete a user and everything they own',
      tag,
      auth: { scopes: ['delete:users'] },
      status: 204,
      handler: (ctx) => users.remove(principalOf(ctx), ctx.params['id']!),
    }),
  ];
}
