import Router from '@koa/router';
import { mountRoutes, type BuildOptions } from '../route-spec.ts';
import { authTestSchema } from '../../wire/auth.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { Middleware } from 'koa';
import { assertCredential, authenticateRequest, type Authenticator } from '../../auth/authenticate.ts';
import { limitRequest, type Policies, type RateLimiter } from '../../features/rate-limit/rate-limiter.ts';
import { AppError } from '../../http/errors.ts';
import { setAnswerHeader } from '../../http/answer-head.ts';
import { toAppError } from '../../http/domain-errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import { afterStep, type Step } from '../../http/step.ts';
import type { ApiKeysService } from '../../features/api-keys/api-keys.service.ts';
import { apiKeysRoutes } from '../../features/api-keys/api-keys.routes.ts';
import type { UsersService } from '../../features/users/users.service.ts';
import { usersRoutes } from '../../features/users/users.routes.ts';
import type { ProjectsService } from '../../features/projects/projects.service.ts';
import { projectsRoutes } from '../../features/projects/projects.routes.ts';
import type { ConsentsService } from '../../features/consents/consents.service.ts';
import { consentsRoutes } from '../../features/consents/consents.routes.ts';
import type { WebhooksService } from '../../features/webhooks/webhooks.service.ts';
import { webhooksRoutes } from '../../features/webhooks/webhooks.routes.ts';
import type { RegistrationService } from '../../features/registration/registration.service.ts';
import { registrationTokensRoutes } from '../../features/registration/registration-tokens.routes.ts';

import type { ApisService } from '../../features/apis/apis.service.ts';
import { apisRoutes } from '../../features/apis/apis.routes.ts';
import type { AuditTrailService } from '../../features/audit-trail/audit-trail.service.ts';
import { auditRoutes } from '../../features/audit-trail/audit.routes.ts';
import type { UserAdminService } from '../../features/admin/user-admin.service.ts';
import { adminUsersRoutes } from '../../features/admin/users.routes.ts';
import { adminResourcesRoutes } from '../../features/admin/admin-resources.routes.ts';

export const API_VERSION = '2.0';
const ACCEPTED_VERSIONS = new Set(['2', '2.0']);

/**
 * `X-API-Version: 2.0` on every /v2 answer but a preflight's (unknown paths too, so the /v2 app
 * runs it before routing); a request for another version is refused by name.
 */
export function answerApiVersion(ctx: AppContext): void {
  setAnswerHeader(ctx, 'X-API-Version', API_VERSION);
  const asked = ctx.req.headers['x-api-version'] as string | undefined; // repeated: joined by Node
  if (asked && !ACCEPTED_VERSIONS.has(asked.trim())) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Unsupported API version "${asked.slice(0, 20)}"; supported versions: ${API_VERSION}`,
      { field: 'X-API-Version' },
    );
  }
}

/** The methods whose bodies the JSON parser reads (its default); it passes any other untouched. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** The JSON body parser as a step: whether the request goes on (the parser may answer it, 499). */
async function readJsonBody(ctx: AppContext, jsonBody: Middleware<AppState>): Promise<boolean> {
  let goesOn = false;
  await jsonBody(ctx, async () => {
    goesOn = true;
  });
  return goesOn;
}

/**
 * The one step in front of every /v2 route: read a JSON body (on the methods that have one),
 * authenticate (a bearer credential or the dashboard session), count the request against its
 * rate limit (per credential, or per address when there is none), refuse it without a credential,
 * and, for an API key, queue its activity log entry once the answer is known (errors included).
 * One frame for what every request passes, and no promise when nothing waits: a remembered
 * credential, an in-memory rate-limit store and a route that answers at once (see step.ts).
 */
function apiGate(deps: V2Deps): Middleware<AppState> {
  const authOpts = { allowSession: true, origin: deps.origin };
  const { authenticator, limiter, policies, jsonBody } = deps;
  const recordActivity = (ctx: AppContext, status: number) => recordKeyActivity(ctx, status, deps.apiKeys, deps.now);

  /** Once the request is counted: a credential is required, then the route runs. */
  const admitted = (ctx: AppContext, next: () => Step): Step => {
    assertCredential(ctx.state);
    return next();
  };

  /** Counts the request, requires a credential and runs the route; records the key's activity. */
  const counted = (ctx: AppContext, next: () => Step): Step => {
    let running: Step;
    try {
      const limited = limitRequest(ctx, limiter, policies, 'v2');
      running = limited ? limited.then(() => admitted(ctx, next)) : admitted(ctx, next);
    } catch (err) {
      recordActivity(ctx, statusOf(err));
      throw err;
    }
    return afterStep(
      running,
      () => recordActivity(ctx, ctx.status),
      (err) => {
        recordActivity(ctx, statusOf(err));
        throw err;
      },
    );
  };

  const authenticated = (ctx: AppContext, next: () => Step): Step => {
    const authenticating = authenticateRequest(ctx, authenticator, authOpts);
    return authenticating ? authenticating.then(() => counted(ctx, next)) : counted(ctx, next);
  };

  return (ctx, next) => {
    if (!BODY_METHODS.has(ctx.method)) return authenticated(ctx, next);
    return readJsonBody(ctx, jsonBody).then((goesOn) => (goesOn ? authenticated(ctx, next) : undefined));
  };
}

/** The status an error is answered with (500 for one that is not ours). */
const statusOf = (err: unknown): number => toAppError(err)?.status ?? 500;

/** Queues the activity log entry of a request made with an API key. */
function recordKeyActivity(ctx: AppContext, status: number, apiKeys: ApiKeysService, now: () => number): void {
  const c = ctx.state.principal;
  if (c?.kind !== 'api_key') return;
  apiKeys.recordUse({
    key_id: c.credentialId,
    at: now(),
    ip: ctx.ip,
    method: ctx.method,
    path: ctx.path.slice(0, 500),
    status,
    request_id: ctx.state.requestId,
    client_version: ctx.get('X-Client-Version').slice(0, 64) || null,
  });
}

export interface V2Deps {
  authenticator: Authenticator;
  apiKeys: ApiKeysService;
  users: UsersService;
  projects: ProjectsService;
  consents: ConsentsService;
  webhooks: WebhooksService;
  registration: RegistrationService;
  apis: ApisService;
  auditTrail: AuditTrailService;
  userAdmin: UserAdminService;
  /** The console's applications, keys and signing keys, for admin:all (features/admin). */
  adminResources: Parameters<typeof adminResourcesRoutes>[0];
  jsonBody: Middleware<AppState>;
  origin: string;
  limiter: RateLimiter;
  policies: Policies;
  now(): number;
}

/**
 * The /v2 API. Flow: the gate (body, authenticate, rate limit, credential required, activity
 * log) -> the route (its scopes, validation, handler).
 */
export function v2Router(deps: V2Deps, specs: RouteSpec[], opts: BuildOptions = {}): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/v2' });
  router.use(apiGate(deps));
  return mountRoutes(router, specs, opts);
}

/** Every /v2 route, declared once (the router and the OpenAPI document are both built from these). */
export function v2RouteSpecs(
  deps: Pick<
    V2Deps,
    | 'users'
    | 'projects'
    | 'apiKeys'
    | 'consents'
    | 'webhooks'
    | 'registration'
    | 'apis'
    | 'auditTrail'
    | 'userAdmin'
    | 'adminResources'
  >,
): RouteSpec[] {
  return [
    // Testing a credential: what the server sees in the presented credential. The
    // scopes are the effective ones (what the credential may do now), not those granted at issue.
    defineRoute({
      method: 'get',
      path: '/auth/test',
      operationId: 'testAuth',
      summary: 'Check a credential (its effective scopes)',
      tag: 'Authentication',
      auth: { scopes: [] },
      status: 200,
      response: authTestSchema,
      handler: ({ principal: c }) => {
        return {
          valid: true,
          method: c.method,
          subject: c.subject,
          scopes: [...c.scopes],
          expires_at: c.expiresAt === null ? null : new Date(c.expiresAt).toISOString(),
        };
      },
    }),
    ...usersRoutes(deps.users),
    ...projectsRoutes(deps.projects),
    ...apiKeysRoutes(deps.apiKeys),
    ...consentsRoutes(deps.consents),
    ...webhooksRoutes(deps.webhooks),
    ...registrationTokensRoutes(deps.registration),
    ...apisRoutes(deps.apis),
    ...auditRoutes(deps.auditTrail),
    ...adminUsersRoutes(deps.userAdmin),
    ...adminResourcesRoutes(deps.adminResources),
  ];
}
