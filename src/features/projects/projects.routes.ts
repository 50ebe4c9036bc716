import { principalOf } from '../../auth/principal.ts';
import { defineRoute, listOf, type RouteSpec } from '../../api/route-spec.ts';
import {
  createProjectSchema,
  listProjectsQuery,
  projectViewSchema,
  updateProjectSchema,
  type ProjectsService,
} from './projects.service.ts';

const tag = 'Projects';

/** /v2/projects: read:projects to read, write:projects to change; another owner's is 403 unless admin:all. */
export function projectsRoutes(projects: ProjectsService): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/projects',
      operationId: 'listProjects',
      summary: "List projects (yours; everyone's with admin:all)",
      tag,
      auth: { scopes: ['read:projects'] },
      query: listProjectsQuery,
      status: 200,
      response: listOf(projectViewSchema),
      handler: (ctx) => projects.list(principalOf(ctx), ctx.query),
    }),
    defineRoute({
      method: 'post',
      path: '/projects',
      operationId: 'createProject',
      summary: 'Create a project',
      tag,
      auth: { scopes: ['write:projects'] },
      body: createProjectSchema,
      status: 201,
      response: projectViewSchema,
      handler: (ctx) => projects.create(principalOf(ctx), ctx.request.body),
    }),
    defineRoute({
      method: 'get',
      path: '/projects/:id',
      operationId: 'getProject',
      summary: 'Get a project',
      tag,
      auth: { scopes: ['read:projects'] },
      status: 200,
      response: projectViewSchema,
      handler: (ctx) => projects.get(principalOf(ctx), ctx.params['id']!),
    }),
    defineRoute({
      method: 'patch',
      path: '/projects/:id',
      operationId: 'updateProject',
      summary: 'Update a project',
      tag,
      auth: { scopes: ['write:projects'] },
      body: updateProjectSchema,
      status: 200,
      response: projectViewSchema,
      handler: (ctx) => projects.update(principalOf(ctx), ctx.params['id']!, ctx.request.body),
    }),
    defineRoute({
      method: 'delete',
      path: '/projects/:id',
      operationId: 'deleteProject',
      summary: 'Delete a project',
      tag,
      auth: { scopes: ['write:projects'] },
      status: 204,
      handler: (ctx) => projects.remove(principalOf(ctx), ctx.params['id']!),
    }),
  ];
}
