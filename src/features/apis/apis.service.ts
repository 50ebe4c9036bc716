import { Conflict, ValidationError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import {
  OPENID_SCOPE_NAMES,
  apiScopeNameProblem,
  type AccessTokenFormat,
  type ResourceServer,
  type ResourceServerScope,
} from '../../domain/resource-servers.ts';
import { API_SCOPES, ALL_API_SCOPES } from '../../domain/scopes.ts';
import type { ApiScopeRow } from '../../db/schema.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import { newId } from '../../shared/secrets.ts';
import type {
  ApiView,
  CreateApiInput,
  ListApisQuery,
  ProtectedResourceMetadata,
  UpdateApiInput,
} from '../../wire/apis.ts';
import type { ApiRecord, ApisRepo } from './apis.repo.ts';
import { protectedResourceMetadata } from './protected-resource.ts';

/** OpenID scopes Latchkey holds no data for; asked for, they are ignored, so no API may claim them. */
const UNHELD_OPENID_SCOPES = ['address', 'phone'];
/** Names no registered API may use: the built-in API's and OpenID Connect's. */
const RESERVED_SCOPES: ReadonlySet<string> = new Set([
  ...ALL_API_SCOPES,
  ...OPENID_SCOPE_NAMES,
  ...UNHELD_OPENID_SCOPES,
]);

/** The built-in /v2 API: the seed's scopes, ACCESS_TOKEN_FORMAT and ACCESS_TOKEN_TTL. */
export function builtInApi(settings: {
  identifier: string;
  accessTokenFormat: AccessTokenFormat;
  accessTokenTtl: number;
}): ResourceServer {
  return {
    id: null,
    identifier: settings.identifier,
    name: 'Latchkey API',
    scopes: Object.entries(API_SCOPES).map(([name, description]) => ({ name, description })),
    accessTokenFormat: settings.accessTokenFormat,
    accessTokenTtl: settings.accessTokenTtl,
    ownerId: null,
    builtIn: true,
  };
}

const toResourceServer = ({ api, scopes }: ApiRecord): ResourceServer => ({
  id: api.id,
  identifier: api.identifier,
  name: api.name,
  scopes: scopes.map((s) => ({ name: s.name, description: s.description })),
  accessTokenFormat: api.access_token_format === 'jwt' ? 'jwt' : 'opaque',
  accessTokenTtl: api.access_token_ttl,
  ownerId: api.owner_id,
  builtIn: false,
});

const toView = ({ api, scopes }: ApiRecord): ApiView => ({
  id: api.id,
  owner_id: api.owner_id,
  identifier: api.identifier,
  name: api.name,
  scopes: scopes.map((s) => ({ name: s.name, description: s.description })),
  access_token_format: api.access_token_format === 'jwt' ? 'jwt' : 'opaque',
  access_token_ttl: api.access_token_ttl,
  created_at: new Date(api.created_at).toISOString(),
  updated_at: new Date(api.updated_at).toISOString(),
});

/** Scope rows for an API, refusing a reserved, malformed or repeated name (naming the field). */
function scopeRows(apiId: string, scopes: ResourceServerScope[]): ApiScopeRow[] {
  const seen = new Set<string>();
  return scopes.map((scope, i) => {
    const problem = apiScopeNameProblem(scope.name, RESERVED_SCOPES);
    if (problem) throw new ValidationError(`scopes.${i}.name ${problem}`, `scopes.${i}.name`);
    if (seen.has(scope.name)) throw new ValidationError(`scopes.${i}.name is listed twice`, `scopes.${i}.name`);
    seen.add(scope.name);
    return { api_id: apiId, name: scope.name, description: scope.description, position: i };
  });
}

export interface ApisServiceDeps {
  repo: ApisRepo;
  now(): number;
  /** The built-in /v2 API (config.API_RESOURCE). */
  builtIn: ResourceServer;
  /** The authorization server (ISSUER), named in every API's metadata. */
  issuer: string;
}

/**
 * APIs (resource servers): the built-in /v2 API and those owners register. `find` is what the
 * authorization server asks when a client names a `resource`; the rest is /v2/apis, the dashboard
 * and the CLI. An API belongs to its owner; another's is 403 unless admin:all.
 */
export function createApisService(deps: ApisServiceDeps) {
  const { repo, now, builtIn } = deps;

  async function load(caller: Principal, id: string): Promise<ApiRecord> {
    return caller.ownedOrAdmin(await repo.findById(id), (r) => r.api.owner_id, 'API');
  }

  /** Refuses scope names another API already has, before writing (a race is caught by the key). */
  async function refuseTakenScopes(apiId: string, rows: ApiScopeRow[]): Promise<void> {
    const names = rows.map((r) => r.name);
    for (const other of await repo.findByScopes(names)) {
      if (other.api.id === apiId) continue;
      const i = names.findIndex((n) => other.scopes.some((s) => s.name === n));
      throw new Conflict(`scopes.${i}.name is already a scope of another API`, `scopes.${i}.name`);
    }
  }

  /** The unique indexes decided a race: say which value was taken. */
  function takenByRace(err: unknown): never {
    if (!isUniqueViolation(err)) throw err;
    if (/identifier/.test(String((err as Error).message))) {
      throw new Conflict('An API with this identifier already exists', 'identifier');
    }
    throw new Conflict('A scope of this API is already a scope of another API', 'scopes');
  }

  return {
    builtIn,
    /** The API this identifier names (the built-in one included), or undefined. */
    async find(identifier: string): Promise<ResourceServer | undefined> {
      if (identifier === builtIn.identifier) return builtIn;
      if (identifier.includes('\u0000')) return undefined;
      const record = await repo.findByIdentifier(identifier);
      return record && toResourceServer(record);
    },
    /** The APIs owning any of these scope names (the built-in one when one of its scopes is named). */
    async findByScopes(names: readonly string[]): Promise<ResourceServer[]> {
      const builtInNamed = names.some((n) => builtIn.scopes.some((s) => s.name === n));
      const registered = names.filter((n) => !RESERVED_SCOPES.has(n) && !n.includes('\u0000'));
      const others = (await repo.findByScopes(registered)).map(toResourceServer);
      return builtInNamed ? [builtIn, ...others] : others;
    },
    /** Who registered each of these scope names (those of no registered API are left out). */
    async scopeOwners(names: readonly string[]): Promise<Map<string, string>> {
      const owners = new Map<string, string>();
      for (const api of await this.findByScopes(names)) {
        for (const s of api.scopes) if (api.ownerId && names.includes(s.name)) owners.set(s.name, api.ownerId);
      }
      return owners;
    },
    /** Who registered the API: null for the built-in one, undefined for none. */
    async ownerOf(identifier: string): Promise<string | null | undefined> {
      const api = await this.find(identifier);
      return api === undefined ? undefined : api.ownerId;
    },
    async list(caller: Principal, { limit, offset }: ListApisQuery): Promise<{ data: ApiView[] }> {
      if (!caller.isAdmin && !caller.accountId) return { data: [] };
      return { data: (await repo.list(caller.isAdmin ? null : caller.accountId, limit, offset)).map(toView) };
    },
    async create(caller: Principal, data: CreateApiInput): Promise<ApiView> {
      const ownerId = caller.requireAccount();
      if (data.identifier === builtIn.identifier) {
        throw new Conflict('An API with this identifier already exists', 'identifier');
      }
      const t = now();
      const id = newId('api');
      const scopes = scopeRows(id, data.scopes);
      if (await repo.findByIdentifier(data.identifier)) {
        throw new Conflict('An API with this identifier already exists', 'identifier');
      }
      await refuseTakenScopes(id, scopes);
      const api = {
        id,
        owner_id: ownerId,
        identifier: data.identifier,
        name: data.name,
        access_token_format: data.access_token_format ?? builtIn.accessTokenFormat,
        access_token_ttl: data.access_token_ttl ?? builtIn.accessTokenTtl,
        created_at: t,
        updated_at: t,
      };
      await repo.insert(api, scopes).catch(takenByRace);
      return toView({ api, scopes });
    },
    async get(caller: Principal, id: string): Promise<ApiView> {
      return toView(await load(caller, id));
    },
    /**
     * The API's protected resource metadata (RFC 9728), for its own server to publish at its
     * well-known address: Latchkey cannot answer on another host.
     */
    async metadata(caller: Principal, id: string): Promise<ProtectedResourceMetadata> {
      return protectedResourceMetadata(toResourceServer(await load(caller, id)), deps.issuer);
    },
    async update(caller: Principal, id: string, data: UpdateApiInput): Promise<ApiView> {
      const record = await load(caller, id);
      const scopes = data.scopes && scopeRows(id, data.scopes);
      if (scopes) await refuseTakenScopes(id, scopes);
      const changes = {
        ...(data.name !== undefined && { name: data.name }),
        ...(data.access_token_format !== undefined && { access_token_format: data.access_token_format }),
        ...(data.access_token_ttl !== undefined && { access_token_ttl: data.access_token_ttl }),
        updated_at: now(),
      };
      await repo.update(id, changes, scopes).catch(takenByRace);
      return toView({ api: { ...record.api, ...changes }, scopes: scopes ?? record.scopes });
    },
    /**
     * Deletes the API; its scopes leave every application. Refused while resource_server
     * applications belong to it: they would otherwise introspect whatever API took the identifier next.
     */
    async remove(caller: Principal, id: string): Promise<void> {
      const record = await load(caller, id);
      const servers = await repo.resourceServersOf(record.api.identifier);
      if (servers > 0) {
        throw new Conflict(
          `${servers} resource_server application(s) belong to this API: delete them or move them to another API first`,
        );
      }
      await repo.delete(id);
    },
  };
}
export type ApisService = ReturnType<typeof createApisService>;
