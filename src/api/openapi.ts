import { z } from 'zod';
import type { Middleware } from 'koa';
import type { AppState } from '../http/context.ts';
import { errorSchema } from '../wire/common.ts';
import type { RouteSpec } from '../wire/route.ts';

export interface RouteGroup {
  prefix: string;
  specs: RouteSpec[];
}

/**
 * A zod schema as an OpenAPI 3.1 schema object. zod stamps each one with `"$schema"`; OpenAPI 3.1
 * already means JSON Schema 2020-12, and converters (openapi-to-postmanv2 among them) drop any
 * request body whose schema carries it, so it is left out.
 */
const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _implied, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

/**
 * The license the document states, by SPDX identifier (OpenAPI 3.1 wants an identifier or a URL
 * beside the name). Keep it in step with the project's license.
 */
const LICENSE = { name: 'Apache License 2.0', identifier: 'Apache-2.0' };

const ERRORS: Record<string, string> = {
  '400': 'Invalid input (VALIDATION_FAILED, naming the field)',
  '401': 'Invalid or missing authentication credentials (UNAUTHORIZED)',
  '403': 'Insufficient permissions for this operation (FORBIDDEN)',
  '404': 'Not found (NOT_FOUND)',
  '429': 'Rate limited (RATE_LIMITED), with Retry-After',
  '503': 'The database is unreachable for now (SERVICE_UNAVAILABLE), with Retry-After',
};

/** The full path of a route in OpenAPI form: `/v2/projects/{id}`. */
export function openApiPath(prefix: string, path: string): string {
  const full = (prefix + (path === '/' ? '' : path)).replace(/\/$/, '') || '/';
  return full.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * OpenAPI 3.1, generated from the same route specs (and so the same zod schemas) the routers are
 * built from: request bodies and query strings are the schemas the routes parse requests with,
 * responses the schemas of what the handlers return.
 */
export function buildOpenApi(
  groups: RouteGroup[],
  info: { version: string; serverUrl: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { prefix, specs } of groups) {
    for (const spec of specs) {
      const path = openApiPath(prefix, spec.path);
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }));
      if (spec.query) {
        const q = jsonSchema(spec.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
        for (const [name, schema] of Object.entries(q.properties ?? {})) {
          params.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema } as never);
        }
      }
      const scopes = 'scopes' in spec.auth ? spec.auth.scopes : ['admin:all'];
      paths[path] ??= {};
      paths[path][spec.method] = {
        operationId: spec.operationId,
        summary: spec.summary,
        tags: [spec.tag],
        ...(params.length ? { parameters: params } : {}),
        // Bearer first: generated clients authenticate with the first scheme listed.
        security: [{ bearer: scopes }, { session: [] }],
        ...(spec.body
          ? {
              requestBody: {
                // A body schema that accepts no body at all (`.optional()`) is an optional body.
                required: !spec.body.safeParse(undefined).success,
                content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
              },
            }
          : {}),
        responses: {
          [String(spec.status)]: spec.response
            ? {
                description: 'Success',
                content: { 'application/json': { schema: jsonSchema(spec.response, 'output') } },
              }
            : { description: 'Success, no content' },
          ...Object.fromEntries(
            Object.entries(ERRORS).map(([code, description]) => [
              code,
              { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
            ]),
          ),
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Latchkey API',
      version: info.version,
      license: LICENSE,
      description:
        'The /v2 API and application registration of a Latchkey authorization server. ' +
        'Send `Authorization: Bearer <API key | OAuth access token | JWT>`.',
    },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: { Error: jsonSchema(errorSchema, 'output') },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key, an OAuth access token or a shared-secret JWT',
        },
        session: { type: 'apiKey', in: 'cookie', name: 'lk_session', description: 'The dashboard session' },
      },
    },
  };
}

/** Answers GET /v2/openapi.json with the document (no credential needed: it describes, it grants nothing). */
export function serveOpenApi(doc: Record<string, unknown>): Middleware<AppState> {
  const body = JSON.stringify(doc);
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = body;
  };
}
