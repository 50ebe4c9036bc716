import type { z } from 'zod';
import type { Principal } from '../domain/principal.ts';
import type { Provenance } from '../domain/audit.ts';

/** Who may call a route: scopes on any credential, or a dashboard session / admin:all. */
export type RouteAuth = { scopes: string[] } | { sessionOrAdmin: true };

/** The `:name` parameters of a Koa-style path, e.g. `'/projects/:id'` → `'id'`. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;
export type PathParams<P extends string> = { [K in ParamNames<P>]: string };

/** What a handler is given: the request's parts already parsed by the route's schemas, and who asks. */
export interface RouteInput<Body, Query, Params> {
  body: Body;
  query: Query;
  params: Params;
  principal: Principal;
  /** Who acts and from where, for the services that record audit events. */
  by: Provenance;
}

/**
 * One API route, declared once: the router is built from it and so is the OpenAPI document, so the
 * two cannot disagree. The transport parses `body`, `query` and `params` with these schemas before
 * the handler runs (a refusal names the field); `response` is the schema of what the handler returns.
 */
export interface RouteSpec<
  Path extends string = string,
  Body extends z.ZodType = z.ZodType,
  Query extends z.ZodObject = z.ZodObject,
  Params extends z.ZodObject = z.ZodObject,
> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Koa-style path relative to the router prefix, e.g. `/projects/:id`. */
  path: Path;
  operationId: string;
  summary: string;
  tag: string;
  auth: RouteAuth;
  body?: Body;
  query?: Query;
  /** Path parameters, when they need more than "a string" (every `:name` is one otherwise). */
  params?: Params;
  status: number;
  response?: z.ZodType;
  /** The answer carries a secret shown once (a key, a client or signing secret): never cached. */
  secret?: boolean;
  handler(
    input: RouteInput<z.output<Body>, z.output<Query>, PathParams<Path> & z.output<Params>>,
  ): Promise<unknown> | unknown;
}

/** Declares a route; its handler's input is typed from the path and the schemas. */
export const defineRoute = <
  Path extends string,
  Body extends z.ZodType = z.ZodUnknown,
  Query extends z.ZodObject = z.ZodObject<Record<never, never>>,
  Params extends z.ZodObject = z.ZodObject<Record<never, never>>,
>(
  spec: RouteSpec<Path, Body, Query, Params>,
): RouteSpec => spec as unknown as RouteSpec;
