import { listOf } from '../../wire/common.ts';
import { createProjectSchema, listProjectsQuery, projectViewSchema, updateProjectSchema } from '../../wire/projects.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { ProjectsService } from './projects.service.ts';

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
      handler: ({ principal, query }) => projects.list(principal, query),
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
      handler: ({ principal, body }) => projects.create(principal, body),
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
      handler: ({ principal, params }) => projects.get(principal, params.id),
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
      handler: ({ principal, params, body }) => projects.update(principal, params.id, body),
    }),
    defineRoute({
      method: 'delete',
      path: '/projects/:id',
      operationId: 'deleteProject',
      summary: 'Delete a project',
      tag,
      auth: { scopes: ['write:projects'] },
      status: 204,
      handler: ({ principal, params }) => projects.remove(principal, params.id),
    }),
  ];
}
