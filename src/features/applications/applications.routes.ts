import Router from '@koa/router';
import type { Middleware } from 'koa';
import { authenticate, requireCredential, type Authenticator } from '../../auth/authenticate.ts';
import { mountRoutes, type BuildOptions } from '../../api/route-spec.ts';
import {
  applicationViewSchema,
  createApplicationSchema,
  registeredApplicationSchema,
  reviewApplicationSchema,
  rotateApplicationSecretSchema,
  rotatedApplicationSchema,
  updateApplicationSchema,
} from '../../wire/applications.ts';
import { listOf } from '../../wire/common.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import { rateLimitRequests, type Policies, type RateLimiter } from '../rate-limit/rate-limiter.ts';
import type { AppState } from '../../http/context.ts';
import type { ApplicationsService } from './applications.service.ts';

export interface ApplicationRoutesDeps {
  applications: ApplicationsService;
  authenticator: Authenticator;
  /** The server's own origin: cookie-authenticated writes must come from it. */
  origin: string;
  jsonBody: Middleware<AppState>;
  limiter: RateLimiter;
  /** Registration has its own (lower) limit per account; unauthenticated callers per address. */
  policies: Policies;
}

/**
 * POST/GET/PATCH/DELETE /oauth/applications and secret rotation: the documented step 1, "Register Your
 * Application". Authenticated like /v2: a dashboard session, or a bearer credential carrying
 * write:applications (read:applications to read).
 */
export function applicationsRouter(
  deps: ApplicationRoutesDeps,
  specs: RouteSpec[],
  opts: BuildOptions = {},
): Router<AppState> {
  const router = new Router<AppState>({ prefix: APPLICATIONS_PREFIX });
  router.use(deps.jsonBody, authenticate(deps.authenticator, { allowSession: true, origin: deps.origin }));
  router.use(rateLimitRequests(deps.limiter, deps.policies, 'apps'), requireCredential());
  return mountRoutes(router, specs, opts);
}

export const APPLICATIONS_PREFIX = '/oauth/applications';

export function applicationsRoutes(applications: ApplicationsService): RouteSpec[] {
  const read = { scopes: ['read:applications'] };
  const write = { scopes: ['write:applications'] };
  const tag = 'Applications';
  return [
    defineRoute({
      method: 'post',
      path: '/',
      operationId: 'createApplication',
      summary: 'Register an application (the client secret is shown once)',
      tag,
      auth: write,
      body: createApplicationSchema,
      status: 201,
      response: registeredApplicationSchema,
      secret: true,
      handler: ({ principal, body, by }) => applications.register(principal, body, by),
    }),
    defineRoute({
      method: 'get',
      path: '/',
      operationId: 'listApplications',
      summary: 'List your applications',
      tag,
      auth: read,
      status: 200,
      response: listOf(applicationViewSchema),
      handler: async ({ principal }) => ({ data: await applications.list(principal) }),
    }),
    defineRoute({
      method: 'get',
      path: '/:clientId',
      operationId: 'getApplication',
      summary: 'Get an application',
      tag,
      auth: read,
      status: 200,
      response: applicationViewSchema,
      handler: ({ principal, params }) => applications.get(principal, params.clientId),
    }),
    defineRoute({
      method: 'patch',
      path: '/:clientId',
      operationId: 'updateApplication',
      summary: 'Update name, redirect URIs or scopes',
      tag,
      auth: write,
      body: updateApplicationSchema,
      status: 200,
      response: applicationViewSchema,
      handler: ({ principal, params, body, by }) => applications.update(principal, params.clientId, body, by),
    }),
    defineRoute({
      method: 'delete',
      path: '/:clientId',
      operationId: 'deleteApplication',
      summary: 'Delete an application and every token issued to it',
      tag,
      auth: write,
      status: 204,
      handler: ({ principal, params, by }) => applications.remove(principal, params.clientId, by),
    }),
    defineRoute({
      method: 'post',
      path: '/:clientId/secret',
      operationId: 'rotateApplicationSecret',
      summary: 'Rotate the client secret (shown once); the old one may keep working for an overlap',
      tag,
      auth: write,
      body: rotateApplicationSecretSchema,
      status: 200,
      response: rotatedApplicationSchema,
      secret: true,
      handler: ({ principal, params, body, by }) =>
        applications.rotateSecret(principal, params.clientId, { overlapSeconds: body?.overlap_seconds ?? 0 }, by),
    }),
    defineRoute({
      method: 'post',
      path: '/:clientId/review',
      operationId: 'reviewApplication',
      summary: 'Approve or reject a self-registered client (its owner, or admin:all); rejected, it stops at once',
      tag,
      auth: write,
      body: reviewApplicationSchema,
      status: 200,
      response: applicationViewSchema,
      handler: ({ principal, params, body, by }) => applications.review(principal, params.clientId, body.decision, by),
    }),
  ];
}
