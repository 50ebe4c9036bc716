import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import {
  createUserSchema,
  listQuerySchema,
  updateUserSchema,
  userListSchema,
  userViewSchema,
} from '../../wire/users.ts';
import type { UsersService } from './users.service.ts';

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
      handler: ({ principal, query }) => users.list(principal, query),
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
      handler: ({ body, by }) => users.create(body, by),
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
      handler: ({ principal, params }) => users.get(principal, params.id),
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
      handler: ({ principal, params, body, by }) => users.update(principal, params.id, body, by),
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id',
      operationId: 'deleteUser',
      summary: 'Delete a user and everything they own',
      tag,
      auth: { scopes: ['delete:users'] },
      status: 204,
      handler: ({ principal, params, by }) => users.remove(principal, params.id, by),
    }),
  ];
}
