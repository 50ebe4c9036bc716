/**
 * Every route the running app serves, read from its routers (so a route added tomorrow is fuzzed
 * tomorrow), joined with the OpenAPI document for the request schemas of the JSON APIs.
 */
import type { TestServer } from '../support/server.ts';

export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  format?: string;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  default?: unknown;
};

export interface Route {
  /** Upper case, e.g. PATCH. */
  method: string;
  /** Koa style, with its prefix: `/v2/projects/:id`. */
  path: string;
  params: string[];
  /** The JSON body schema (APIs), when the route takes a body. */
  body?: JsonSchema;
  /** Query parameter names (APIs). */
  query: string[];
  operationId?: string;
}

interface Layer {
  path: string | RegExp;
  methods: string[];
  paramNames: { name: string }[];
}
interface RouterLike {
  opts?: { prefix?: string };
  stack: Layer[];
}

const API_PREFIXES = ['/v2', '/oauth/applications'];

/** Routes of every router the app serves. */
function mountedRoutes(server: TestServer): { route: Omit<Route, 'query'>; api: boolean }[] {
  const out: { route: Omit<Route, 'query'>; api: boolean }[] = [];
  for (const router of server.built.routers as unknown as RouterLike[]) {
    const api = API_PREFIXES.includes(router.opts?.prefix ?? '');
    for (const layer of router.stack) {
      if (typeof layer.path !== 'string' || layer.methods.length === 0) continue; // router.use() layers
      for (const m of layer.methods) {
        if (m === 'HEAD') continue;
        out.push({ route: { method: m, path: layer.path, params: layer.paramNames.map((p) => p.name) }, api });
      }
    }
  }
  return out;
}

type Operation = {
  operationId?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
};

/** The JSON API routes (/v2, /oauth/applications) with their body schemas from the document. */
export function apiRoutes(server: TestServer): Route[] {
  const paths = server.built.openApi['paths'] as Record<string, Record<string, Operation>>;
  return mountedRoutes(server)
    .filter((r) => r.api)
    .map(({ route }) => {
      const docPath = route.path.replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1');
      const op = paths[docPath]?.[route.method.toLowerCase()];
      if (!op) throw new Error(`${route.method} ${route.path} is served but not in the OpenAPI document`);
      const body = op.requestBody?.content?.['application/json']?.schema;
      return {
        ...route,
        path: route.path.replace(/(.)\/$/, '$1'),
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        ...(body ? { body } : {}),
        ...(op.operationId ? { operationId: op.operationId } : {}),
      };
    });
}

/** The browser routes: pages (GET) and forms (POST) of every other router. */
export function pageRoutes(server: TestServer): Route[] {
  return mountedRoutes(server)
    .filter((r) => !r.api)
    .map(({ route }) => ({ ...route, query: [] }));
}

/** A route's path with its parameters filled in (values already encoded for a URL). */
export function fillPath(route: Route, values: Record<string, string>): string {
  return route.path.replace(/:(\w+)/g, (_, name: string) => values[name] ?? 'x');
}

/** The JSON types a schema admits (empty: unknown, anything goes). */
export function allowedTypes(schema: JsonSchema): Set<string> {
  const out = new Set<string>();
  const add = (s: JsonSchema) => {
    if (typeof s.type === 'string') out.add(s.type);
    else if (Array.isArray(s.type)) for (const t of s.type) out.add(t);
    for (const sub of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) add(sub);
    if (s.enum) for (const v of s.enum) out.add(v === null ? 'null' : typeof v);
  };
  add(schema);
  if (out.has('integer')) out.add('number');
  return out;
}

/** A plausible value for a field, so one wrong field is the only thing wrong in a body. */
export function plausible(name: string, schema: JsonSchema): unknown {
  const s = schema.anyOf?.find((x) => x.type !== 'null') ?? schema;
  if (s.enum?.length) return s.enum[0];
  switch (Array.isArray(s.type) ? s.type[0] : s.type) {
    case 'string':
      if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      if (name === 'url') return 'https://hooks.example.com/latchkey';
      if (name === 'email') return `fuzz-${Math.random().toString(36).slice(2)}@example.com`;
      if (name === 'password') return 'a long fuzz passphrase';
      return 'fuzz';
    case 'array': {
      const item = s.items ? plausible(name, s.items) : 'x';
      if (name === 'redirect_uris') return ['https://client.example/callback'];
      return (s.minItems ?? 0) > 0 || s.items?.enum ? [item] : [];
    }
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    case 'object':
      return {};
    default:
      return null;
  }
}
