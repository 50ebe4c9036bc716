import type { AdapterPayload } from 'oidc-provider';
import { Forbidden, NotYours, ValidationError } from '../../domain/errors.ts';
import type { RegistrationKind, ReviewDecision, ReviewState } from '../../domain/registration.ts';
import { ALL_API_SCOPES, isApiScope } from '../../domain/scopes.ts';
import { hasValidChecksum, mintSecret, newId, safeEqual, sha256 } from '../../shared/secrets.ts';
import type { Principal } from '../../domain/principal.ts';
import type { ApplicationRow } from '../../db/schema.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { Audit } from '../audit/audit.ts';
import type { AuditActor, Provenance } from '../../domain/audit.ts';
import type { ApplicationsRepo } from './applications.repo.ts';
import { createTtlCache } from '../../shared/ttl-cache.ts';
import type { CredentialEvents } from '../../shared/credential-events.ts';
import {
  APPLICATION_LINKS,
  defaultDeviceFlow,
  allowedOriginsProblem,
  defaultRequirePkce,
  deviceFlowProblem,
  isPublicType,
  optionalPkceProblem,
  pairwiseProblem,
  redirectOrigins,
  redirectUriProblem,
  requiredDpopProblem,
  requiredParProblem,
  TOKEN_EXCHANGE_GRANT,
  tokenExchangeProblem,
  usesRedirects,
  type ApplicationLink,
  type ApplicationType,
  type SubjectType,
} from '../../domain/applications.ts';
import {
  MAX_SECRET_OVERLAP_SECONDS,
  type ApplicationView,
  type CreateApplicationInput,
  type UpdateApplicationInput,
} from '../../wire/applications.ts';

/** Client secrets users copy: `lkcs_...` (Latchkey client secret), checksummed for scanners. */
export const CLIENT_SECRET_PREFIX = 'lkcs';

/** The API a resource_server application belongs to: its own, or the built-in one (null for other types). */
const apiOf = (row: ApplicationRow, builtIn: string | null): string | null =>
  row.type === 'resource_server' ? (row.api ?? builtIn) : null;

/**
 * An application as the API shows it. `builtInApi` names the API a resource_server without its own
 * belongs to (self-registered clients are never resource servers, so their view needs none).
 */
export const toView = (row: ApplicationRow, builtInApi: string | null = null): ApplicationView => ({
  client_id: row.client_id,
  name: row.name,
  type: row.type as ApplicationType,
  redirect_uris: JSON.parse(row.redirect_uris) as string[],
  scopes: JSON.parse(row.scopes) as string[],
  logo_uri: row.logo_uri,
  client_uri: row.client_uri,
  policy_uri: row.policy_uri,
  tos_uri: row.tos_uri,
  post_logout_redirect_uris: JSON.parse(row.post_logout_redirect_uris) as string[],
  backchannel_logout_uri: row.backchannel_logout_uri,
  backchannel_logout_session_required: row.backchannel_logout_session_required === 1,
  require_pkce: row.require_pkce !== 0,
  subject_type: row.subject_type as SubjectType,
  device_flow: row.device_flow === 1,
  registration: row.registration as RegistrationKind,
  review_state: row.review_state as ReviewState | null,
  require_pushed_authorization_requests: row.require_pushed_authorization_requests === 1,
  require_dpop: row.require_dpop === 1,
  allowed_origins: JSON.parse(row.allowed_origins) as string[],
  token_exchange: JSON.parse(row.token_exchange) as string[],
  api: apiOf(row, builtInApi),
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
  suspended_at: row.suspended_at === null ? null : new Date(Number(row.suspended_at)).toISOString(),
});

/** Who may manage an application: its owner, or admin:all (see Principal.ownedOrAdmin). */
const manageable = (caller: Principal, row: ApplicationRow | undefined): ApplicationRow =>
  caller.ownedOrAdmin(row, (app) => app.owner_id, 'Application');

/**
 * An application's tokens act with its scopes, so it may never hold more than the principal that
 * gives them (a bearer credential: its effective scopes; a browser session: the account's rights).
 * Pointing it somewhere new (redirect URIs) or minting its secret hands those scopes over too.
 */
function assertHolds(caller: Principal, scopes: readonly string[], refusal: (lacking: string) => string): void {
  // The built-in API's scopes are held by credentials; a registered API's belong to its owner (checkApiScopes).
  const lacking = caller.lacking(scopes.filter(isApiScope));
  if (lacking.length) throw new Forbidden(refusal(lacking.join(', ')));
}

/** Why each change is refused, naming the scopes the caller lacks. */
const REFUSED = {
  register: (l: string) => `An application cannot be given scopes you do not hold: ${l}`,
  redirect: (l: string) =>
    `Changing the redirect URIs of an application needs every scope it has; you do not hold: ${l}`,
  rotate: (l: string) => `Rotating the secret of an application needs every scope it has; you do not hold: ${l}`,
};

const scopesOf = (row: ApplicationRow): string[] => JSON.parse(row.scopes) as string[];

/** How a person's registration is marked: by hand, nothing to review, no registration access token. */
const MANUAL = { registration: 'manual', review_state: null, registration_token_hash: null, registered_with: null };

function checkRedirects(uris: string[], type: ApplicationType): void {
  if (usesRedirects(type) && uris.length === 0) {
    throw new ValidationError('redirect_uris: at least one redirect URI is required', 'redirect_uris');
  }
  if (!usesRedirects(type) && uris.length > 0) {
    throw new ValidationError(`redirect_uris: a ${type} application does not use redirect URIs`, 'redirect_uris');
  }
  uris.forEach((uri, i) => {
    const problem = redirectUriProblem(uri, type);
    if (problem) throw new ValidationError(`redirect_uris.${i}: ${problem}`, `redirect_uris.${i}`);
  });
}

/** Refuses settings the application's type cannot have: optional PKCE, a pairwise subject it cannot get. */
function checkOpenIdSettings(row: ApplicationRow, changedRedirects: boolean): void {
  const type = row.type as ApplicationType;
  const pkce = row.require_pkce === 0 ? optionalPkceProblem(type) : null;
  if (pkce) throw new ValidationError(`require_pkce: ${pkce}`, 'require_pkce');
  const pairwise = row.subject_type === 'pairwise' ? pairwiseProblem(type, JSON.parse(row.redirect_uris)) : null;
  const field = changedRedirects ? 'redirect_uris' : 'subject_type';
  if (pairwise) throw new ValidationError(`${field}: ${pairwise}`, field);
  const deviceFlow = row.device_flow === 1 ? deviceFlowProblem(type) : null;
  if (deviceFlow) throw new ValidationError(`device_flow: ${deviceFlow}`, 'device_flow');
  const par = row.require_pushed_authorization_requests === 1 ? requiredParProblem(type) : null;
  if (par) {
    throw new ValidationError(`require_pushed_authorization_requests: ${par}`, 'require_pushed_authorization_requests');
  }
  const dpop = row.require_dpop === 1 ? requiredDpopProblem(type) : null;
  if (dpop) throw new ValidationError(`require_dpop: ${dpop}`, 'require_dpop');
}

/** The sender-constraint settings a registration or an update gives (undefined: not given). */
function senderConstraintsIn(data: UpdateApplicationInput) {
  return {
    ...(data.require_pushed_authorization_requests !== undefined && {
      require_pushed_authorization_requests: data.require_pushed_authorization_requests ? 1 : 0,
    }),
    ...(data.require_dpop !== undefined && { require_dpop: data.require_dpop ? 1 : 0 }),
  };
}

/** The API access settings a registration or an update gives (undefined: not given). */
function apiAccessIn(data: UpdateApplicationInput) {
  return {
    ...(data.allowed_origins && { allowed_origins: JSON.stringify(data.allowed_origins) }),
    ...(data.token_exchange && { token_exchange: JSON.stringify(data.token_exchange) }),
  };
}

/** The token exchange grant, for an application allowed it for some API (public clients never are). */
const exchangeGrant = (row: ApplicationRow): string[] =>
  JSON.parse(row.token_exchange).length > 0 && !isPublicType(row.type as ApplicationType) ? [TOKEN_EXCHANGE_GRANT] : [];

/** Columns that hold secrets or bookkeeping: a change to them is never listed as a changed field. */
const UNLISTED_COLUMNS = new Set<keyof ApplicationRow>([
  'secret_hash',
  'previous_secret_hash',
  'previous_secret_expires_at',
  'registration_token_hash',
  'updated_at',
]);

/** The names of the settings a change altered (never a secret's value, only that a setting moved). */
export function changedFields(before: ApplicationRow, after: ApplicationRow): string[] {
  return (Object.keys(after) as Array<keyof ApplicationRow>).filter(
    (column) => !UNLISTED_COLUMNS.has(column) && before[column] !== after[column],
  );
}

/**
 * Who acts when an application manages itself through dynamic registration (RFC 7591/7592): the
 * client, on behalf of the account that holds it. Those requests carry no principal of their own.
 */
export const clientActor = (row: Pick<ApplicationRow, 'client_id' | 'owner_id'>): AuditActor => ({
  type: 'client',
  id: row.client_id,
  accountId: row.owner_id,
  label: null,
});

/** Client metadata naming the previous secret (its hash) and when it stops working, during an overlap. */
export const PREVIOUS_SECRET = 'latchkey_previous_secret';
interface PreviousSecret {
  hash: string;
  /** Epoch ms. */
  expires_at: number;
}

/** The previous secret of an application, while its overlap runs. */
function previousSecretOf(row: ApplicationRow, t: number): PreviousSecret | null {
  const { previous_secret_hash: hash, previous_secret_expires_at: until } = row;
  return hash !== null && until !== null && Number(until) > t ? { hash, expires_at: Number(until) } : null;
}

/** The registered links of an application (those not registered are left out). */
function linksOf(row: ApplicationRow): Partial<Record<ApplicationLink, string>> {
  return Object.fromEntries(APPLICATION_LINKS.flatMap((link) => (row[link] ? [[link, row[link]]] : [])));
}

/** The links a registration or an update gives (undefined: not given, null: removed). */
function linksIn(data: Partial<Record<ApplicationLink, string | null | undefined>>) {
  return Object.fromEntries(
    APPLICATION_LINKS.flatMap((link) => (data[link] === undefined ? [] : [[link, data[link]]])),
  ) as Partial<Record<ApplicationLink, string | null>>;
}

/** The logout settings a registration or an update gives (undefined: not given). */
function logoutIn(data: UpdateApplicationInput) {
  return {
    ...(data.post_logout_redirect_uris && {
      post_logout_redirect_uris: JSON.stringify(data.post_logout_redirect_uris),
    }),
    ...(data.backchannel_logout_uri !== undefined && { backchannel_logout_uri: data.backchannel_logout_uri }),
    ...(data.backchannel_logout_session_required !== undefined && {
      backchannel_logout_session_required: data.backchannel_logout_session_required ? 1 : 0,
    }),
  };
}

/** Only applications people sign in to take part in logout. */
function checkLogout(row: ApplicationRow): void {
  const type = row.type as ApplicationType;
  if (usesRedirects(type)) return;
  if (JSON.parse(row.post_logout_redirect_uris).length > 0) {
    const message = `post_logout_redirect_uris: a ${type} application has no sign-in to end`;
    throw new ValidationError(message, 'post_logout_redirect_uris');
  }
  if (row.backchannel_logout_uri) {
    const message = `backchannel_logout_uri: a ${type} application has no sign-in to end`;
    throw new ValidationError(message, 'backchannel_logout_uri');
  }
}

/** Client metadata frozen with its arrays and objects (one level down is all it has). */
function frozen(metadata: AdapterPayload): AdapterPayload {
  for (const value of Object.values(metadata)) if (value && typeof value === 'object') Object.freeze(value);
  return Object.freeze(metadata);
}

/** What oidc-provider needs to know of an application's logout settings. */
function logoutMetadataOf(row: ApplicationRow) {
  return {
    post_logout_redirect_uris: JSON.parse(row.post_logout_redirect_uris) as string[],
    ...(row.backchannel_logout_uri
      ? {
          backchannel_logout_uri: row.backchannel_logout_uri,
          backchannel_logout_session_required: row.backchannel_logout_session_required === 1,
        }
      : {}),
  };
}
/** Client metadata saying whether the authorization code flow must use PKCE (read by oidc/provider.ts). */
export const REQUIRE_PKCE = 'latchkey_require_pkce';
/** Client metadata naming a self-registered client's review state (the consent page warns while pending). */
export const REVIEW_STATE = 'latchkey_review_state';

/**
 * A rejected self-registered client, or one an administrator suspended, is no client at all:
 * authorize, token and introspection refuse it, and its tokens stop working at the API.
 */
const isRefused = (row: ApplicationRow) => row.review_state === 'rejected' || row.suspended_at !== null;

/** Client metadata naming the API a resource_server belongs to (absent: the built-in one); introspection reads it. */
export const RESOURCE_SERVER_API = 'latchkey_api';

/**
 * oidc-provider client metadata for an application. The stored secret *hash* stands in for
 * `client_secret`; `compareClientSecret` (see oidc/provider.ts) hashes what the client presents.
 * During an overlap after a rotation, the previous secret's hash rides along (PREVIOUS_SECRET).
 */
export function toClientMetadata(row: ApplicationRow, t: number): AdapterPayload {
  const type = row.type as ApplicationType;
  const previous = previousSecretOf(row, t);
  const base = {
    client_id: row.client_id,
    client_name: row.name,
    latchkey_type: type,
    latchkey_scopes: JSON.parse(row.scopes) as string[],
    ...(previous ? { [PREVIOUS_SECRET]: previous } : {}),
    ...(row.review_state ? { [REVIEW_STATE]: row.review_state } : {}),
    // Standard client metadata (RFC 9449 §5.2): a token request without a DPoP proof is refused.
    ...(row.require_dpop === 1 ? { dpop_bound_access_tokens: true } : {}),
    // Standard client metadata: oidc-provider checks them too, and the consent page reads them.
    ...linksOf(row),
  };
  if (type === 'service') {
    return {
      ...base,
      client_secret: row.secret_hash!,
      grant_types: ['client_credentials', ...exchangeGrant(row)],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    };
  }
  if (type === 'resource_server') {
    return {
      ...base,
      ...(row.api ? { [RESOURCE_SERVER_API]: row.api } : {}),
      client_secret: row.secret_hash!,
      grant_types: exchangeGrant(row),
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    };
  }
  return {
    ...base,
    ...(isPublicType(type)
      ? { token_endpoint_auth_method: 'none' }
      : { client_secret: row.secret_hash!, token_endpoint_auth_method: 'client_secret_basic' }),
    application_type: type === 'native' ? 'native' : 'web',
    [REQUIRE_PKCE]: isPublicType(type) || row.require_pkce !== 0,
    subject_type: row.subject_type as SubjectType,
    // Standard client metadata (RFC 9126 §6): /oauth/authorize then takes only a pushed request_uri.
    ...(row.require_pushed_authorization_requests === 1 ? { require_pushed_authorization_requests: true } : {}),
    grant_types: [
      'authorization_code',
      'refresh_token',
      ...(row.device_flow === 1 ? [DEVICE_CODE_GRANT] : []),
      ...exchangeGrant(row),
    ],
    response_types: ['code'],
    redirect_uris: JSON.parse(row.redirect_uris) as string[],
    ...logoutMetadataOf(row),
  };
}

/**
 * RFC 8628's grant (`device_flow`): the application (a CLI, a TV app: native ones by default) signs
 * its person in on another device's browser; a public one polls the token endpoint without a secret.
 */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Constant-time check of a presented client secret against the stored hash. */
export function clientSecretMatches(presented: string, storedHash: string): boolean {
  if (!hasValidChecksum(presented, CLIENT_SECRET_PREFIX)) return false;
  return safeEqual(sha256(presented), storedHash);
}

/**
 * Whether a presented secret opens a client now (its oidc-provider metadata): the current secret,
 * or the previous one until the instant its overlap ends. Both are compared whichever matches, so
 * the time taken does not tell which secret was presented.
 */
export function clientSecretAccepted(
  presented: string,
  client: { client_secret?: unknown; [PREVIOUS_SECRET]?: unknown },
  t: number,
): boolean {
  const current = typeof client.client_secret === 'string' ? client.client_secret : null;
  const previous = client[PREVIOUS_SECRET] as Partial<PreviousSecret> | undefined;
  const previousHash = typeof previous?.hash === 'string' ? previous.hash : null;
  const previousLive = previousHash !== null && typeof previous?.expires_at === 'number' && previous.expires_at > t;
  const currentMatched = current !== null && clientSecretMatches(presented, current);
  const previousMatched = previousHash !== null && clientSecretMatches(presented, previousHash);
  return currentMatched || (previousLive && previousMatched);
}

/** What applications need to know of the registered APIs (apis.service.ts). */
export interface RegisteredApis {
  /** The built-in /v2 API's identifier. */
  builtIn: string;
  /** Who registered each of these scope names (names of no registered API are left out). */
  scopeOwners(names: readonly string[]): Promise<Map<string, string>>;
  /** Who registered the API: null for the built-in one, undefined for none. */
  ownerOf(identifier: string): Promise<string | null | undefined>;
}

export function createApplicationsService(deps: {
  repo: ApplicationsRepo;
  now(): number;
  /** oidc-provider's own metadata check, so a registered app is always one the provider accepts. */
  validateMetadata(metadata: AdapterPayload): Promise<void>;
  /**
   * Client lookups (every token request, every introspection) are trusted this long; changes
   * anywhere evict at once.
   */
  cacheTtlMs: number;
  /** Told of every application or account change, here or on another instance; told of ours in turn. */
  events: CredentialEvents;
  /** Registered APIs, whose scopes and tokens an application may be given. */
  apis: RegisteredApis;
  /** Whether an API of this identifier exists (the targets of token exchange). */
  apiExists(identifier: string): Promise<boolean>;
  /** Records each change in the audit trail, written with the change. */
  audit: Audit;
}) {
  const { repo, now, events, apis } = deps;
  const view = (row: ApplicationRow) => toView(row, apis.builtIn);

  /**
   * Scopes of registered APIs may be given only by the API's owner (or admin:all). A scope of
   * another owner's API is refused exactly as an unknown name is: the answer tells nobody which
   * scopes exist.
   */
  async function checkApiScopes(caller: Principal, ownerId: string, scopes: readonly string[]): Promise<void> {
    const others = scopes.filter((s) => !isApiScope(s));
    if (others.length === 0) return;
    const owners = await apis.scopeOwners(others);
    const i = scopes.findIndex(
      (s) => !isApiScope(s) && (!owners.has(s) || (!caller.isAdmin && owners.get(s) !== ownerId)),
    );
    if (i >= 0) {
      throw new ValidationError(
        `scopes.${i}: each scope must be one of: ${ALL_API_SCOPES.join(', ')}, or a scope of an API you registered`,
        `scopes.${i}`,
      );
    }
  }

  /**
   * The API a resource_server belongs to, as stored (null: the built-in one); another owner's is
   * refused as an unknown one is.
   */
  async function resourceServerApi(
    caller: Principal,
    ownerId: string,
    type: ApplicationType,
    identifier: string,
  ): Promise<string | null> {
    if (type !== 'resource_server') {
      throw new ValidationError(`api: only a resource_server application belongs to an API, not a ${type} one`, 'api');
    }
    const owner = await apis.ownerOf(identifier);
    if (owner === null) return null;
    if (owner === undefined || (!caller.isAdmin && owner !== ownerId)) {
      throw new ValidationError('api: no API you registered has this identifier', 'api');
    }
    return identifier;
  }
  // A row carries its redirect URIs, origins and settings: bounded by bytes as well as by count.
  const cache = createTtlCache<ApplicationRow>({ ttlMs: deps.cacheTtlMs, max: 10_000, maxBytes: 8 * 1024 * 1024, now });
  const origins = browserOriginsCache(repo, deps.cacheTtlMs, now);
  events.subscribe((event) => {
    if (event.kind === 'application') cache.delete(event.id);
    // An account's deletion also takes, with its APIs, other owners' resource servers bound to them.
    else if (event.kind === 'account') cache.deleteWhere((row) => row.owner_id === event.id || row.api !== null);
    // Any application may have gained or lost an origin (an account's deletion removes its own).
    origins.invalidate();
  });

  /** Refuses origins or token exchange the application's type cannot have, or APIs that do not exist. */
  async function checkApiAccess(row: ApplicationRow): Promise<void> {
    const type = row.type as ApplicationType;
    const originsProblem = JSON.parse(row.allowed_origins).length > 0 ? allowedOriginsProblem(type) : null;
    if (originsProblem) throw new ValidationError(`allowed_origins: ${originsProblem}`, 'allowed_origins');
    const exchange = JSON.parse(row.token_exchange) as string[];
    const exchangeProblem = exchange.length > 0 ? tokenExchangeProblem(type) : null;
    if (exchangeProblem) throw new ValidationError(`token_exchange: ${exchangeProblem}`, 'token_exchange');
    for (const [i, identifier] of exchange.entries()) {
      if (!(await deps.apiExists(identifier))) {
        throw new ValidationError(
          `token_exchange.${i}: no API has the identifier ${identifier}`,
          `token_exchange.${i}`,
        );
      }
    }
  }

  /**
   * Each cached row's client metadata, made once rather than on every read (a token request reads
   * it twice): a row read afresh is another object, so it goes with the row. Frozen, so no reader
   * can change what the next one gets. It holds until a rotated secret's overlap ends, when the
   * previous secret drops out of it.
   */
  const metadataOfRow = new WeakMap<ApplicationRow, { metadata: AdapterPayload; until: number }>();
  function clientMetadataOf(row: ApplicationRow, t: number): AdapterPayload {
    const made = metadataOfRow.get(row);
    if (made && t < made.until) return made.metadata;
    const metadata = frozen(toClientMetadata(row, t));
    metadataOfRow.set(row, { metadata, until: previousSecretOf(row, t)?.expires_at ?? Number.POSITIVE_INFINITY });
    return metadata;
  }

  /** The application as the token endpoint and introspection see it (cached briefly); never a refused one. */
  async function findForAuth(clientId: string): Promise<ApplicationRow | undefined> {
    let row = cache.get(clientId);
    if (!row) {
      row = await repo.findById(clientId);
      if (row) cache.set(clientId, row);
    }
    return row && !isRefused(row) ? row : undefined;
  }

  /**
   * A new application's row and secret (shown once), checked by every rule a registration
   * meets (redirect URIs, logout, PKCE and subject settings, oidc-provider's own metadata check).
   */
  async function draftNew(
    ownerId: string,
    data: CreateApplicationInput,
    registration: Pick<
      ApplicationRow,
      'registration' | 'review_state' | 'registration_token_hash' | 'registered_with'
    > &
      Partial<Pick<ApplicationRow, 'api'>>,
  ): Promise<{ row: ApplicationRow; secret: string | undefined }> {
    checkRedirects(data.redirect_uris, data.type);
    const secret = isPublicType(data.type) ? undefined : mintSecret(CLIENT_SECRET_PREFIX);
    const t = now();
    const row: ApplicationRow = {
      client_id: newId('app'),
      owner_id: ownerId,
      name: data.name,
      type: data.type,
      redirect_uris: JSON.stringify(data.redirect_uris),
      scopes: JSON.stringify(data.scopes),
      secret_hash: secret ? sha256(secret) : null,
      previous_secret_hash: null,
      previous_secret_expires_at: null,
      created_at: t,
      updated_at: t,
      logo_uri: data.logo_uri ?? null,
      client_uri: data.client_uri ?? null,
      policy_uri: data.policy_uri ?? null,
      tos_uri: data.tos_uri ?? null,
      post_logout_redirect_uris: JSON.stringify(data.post_logout_redirect_uris ?? []),
      backchannel_logout_uri: data.backchannel_logout_uri ?? null,
      backchannel_logout_session_required: data.backchannel_logout_session_required ? 1 : 0,
      require_pkce: (data.require_pkce ?? defaultRequirePkce(data.type)) ? 1 : 0,
      subject_type: data.subject_type ?? 'public',
      device_flow: (data.device_flow ?? defaultDeviceFlow(data.type)) ? 1 : 0,
      require_pushed_authorization_requests: data.require_pushed_authorization_requests ? 1 : 0,
      require_dpop: data.require_dpop ? 1 : 0,
      allowed_origins: JSON.stringify(data.allowed_origins ?? []),
      token_exchange: JSON.stringify(data.token_exchange ?? []),
      api: null,
      suspended_at: null,
      ...registration,
    };
    checkLogout(row);
    checkOpenIdSettings(row, false);
    await checkApiAccess(row);
    await validated(toClientMetadata(row, t));
    return { row, secret };
  }

  /** An application's row after a change, checked as an update is (its type never changes). */
  async function draftChange(
    row: ApplicationRow,
    data: UpdateApplicationInput,
    api: string | null = row.api,
  ): Promise<ApplicationRow> {
    const type = row.type as ApplicationType;
    if (data.redirect_uris) checkRedirects(data.redirect_uris, type);
    const next: ApplicationRow = {
      ...row,
      ...(data.name !== undefined && { name: data.name }),
      ...(data.redirect_uris && { redirect_uris: JSON.stringify(data.redirect_uris) }),
      ...(data.scopes && { scopes: JSON.stringify(data.scopes) }),
      ...linksIn(data),
      ...logoutIn(data),
      ...(data.require_pkce !== undefined && { require_pkce: data.require_pkce ? 1 : 0 }),
      ...(data.subject_type !== undefined && { subject_type: data.subject_type }),
      ...(data.device_flow !== undefined && { device_flow: data.device_flow ? 1 : 0 }),
      ...senderConstraintsIn(data),
      ...apiAccessIn(data),
      api,
      updated_at: now(),
    };
    checkLogout(next);
    checkOpenIdSettings(next, data.redirect_uris !== undefined && data.subject_type === undefined);
    await checkApiAccess(next);
    await validated(toClientMetadata(next, next.updated_at));
    return next;
  }

  async function validated(metadata: AdapterPayload): Promise<void> {
    try {
      await deps.validateMetadata(metadata);
    } catch (err) {
      const e = err as { error_description?: string; message: string };
      throw new ValidationError(e.error_description ?? e.message);
    }
  }

  return {
    async register(
      caller: Principal,
      data: CreateApplicationInput,
      by: Provenance,
    ): Promise<ApplicationView & { client_secret?: string }> {
      const ownerId = caller.requireAccount();
      checkRedirects(data.redirect_uris, data.type);
      assertHolds(caller, data.scopes, REFUSED.register);
      await checkApiScopes(caller, ownerId, data.scopes);
      const api = data.api === undefined ? null : await resourceServerApi(caller, ownerId, data.type, data.api);
      const { row, secret } = await draftNew(ownerId, data, { ...MANUAL, api });
      const t = row.created_at;
      await repo.insert(row, [
        buildEvent('application.created', ownerId, { client_id: row.client_id, name: row.name, type: row.type }, t),
        deps.audit.event(
          'application.created',
          {
            account: ownerId,
            target: { type: 'application', id: row.client_id },
            data: { name: row.name, type: row.type, registration: row.registration },
          },
          by,
        ),
      ]);
      // Its origins may call the API from now on (the other instances' sets are read again too).
      events.publish({ kind: 'application', id: row.client_id });
      return { ...view(row), ...(secret ? { client_secret: secret } : {}) };
    },

    async list(caller: Principal): Promise<ApplicationView[]> {
      return (await repo.listByOwner(caller.requireAccount())).map(view);
    },

    async get(caller: Principal, clientId: string): Promise<ApplicationView> {
      return view(manageable(caller, await repo.findById(clientId)));
    },

    async update(
      caller: Principal,
      clientId: string,
      data: UpdateApplicationInput,
      by: Provenance,
    ): Promise<ApplicationView> {
      const row = manageable(caller, await repo.findById(clientId));
      if (data.scopes) {
        assertHolds(caller, data.scopes, REFUSED.register);
        await checkApiScopes(caller, row.owner_id, data.scopes);
      }
      const type = row.type as ApplicationType;
      const api = data.api === undefined ? row.api : await resourceServerApi(caller, row.owner_id, type, data.api);
      if (data.redirect_uris && JSON.stringify(data.redirect_uris) !== row.redirect_uris) {
        assertHolds(caller, data.scopes ?? scopesOf(row), REFUSED.redirect);
      }
      const next = await draftChange(row, data, api);
      await repo.update(clientId, next, [
        deps.audit.event(
          'application.changed',
          {
            account: row.owner_id,
            target: { type: 'application', id: clientId },
            data: { name: next.name, fields: changedFields(row, next) },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'application', id: clientId });
      return view(next);
    },

    async remove(caller: Principal, clientId: string, by: Provenance): Promise<void> {
      const row = manageable(caller, await repo.findById(clientId));
      await repo.deleteWithArtifacts(clientId, [
        buildEvent('application.deleted', row.owner_id, { client_id: clientId, name: row.name }, now()),
        deps.audit.event(
          'application.deleted',
          {
            account: row.owner_id,
            target: { type: 'application', id: clientId },
            data: { name: row.name },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'application', id: clientId });
    },

    /**
     * Issues a new secret (shown once). The old one stops working at once, or keeps working beside
     * the new one for `overlapSeconds` (up to 7 days) so the application can be redeployed without
     * downtime. Only one old secret is kept: rotating during an overlap ends that overlap.
     */
    async rotateSecret(
      caller: Principal,
      clientId: string,
      opts: { overlapSeconds?: number },
      by: Provenance,
    ): Promise<ApplicationView & { client_secret: string; previous_secret_expires_at: string | null }> {
      const row = manageable(caller, await repo.findById(clientId));
      assertHolds(caller, scopesOf(row), REFUSED.rotate);
      if (isPublicType(row.type as ApplicationType)) {
        throw new ValidationError(`A ${row.type} application has no client secret`);
      }
      const overlap = opts.overlapSeconds ?? 0;
      if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_SECRET_OVERLAP_SECONDS) {
        throw new ValidationError(
          `overlap_seconds: must be a whole number from 0 to ${MAX_SECRET_OVERLAP_SECONDS}`,
          'overlap_seconds',
        );
      }
      const secret = mintSecret(CLIENT_SECRET_PREFIX);
      const t = now();
      const changes = {
        secret_hash: sha256(secret),
        previous_secret_hash: overlap > 0 ? row.secret_hash : null,
        previous_secret_expires_at: overlap > 0 ? t + overlap * 1000 : null,
        updated_at: t,
      };
      const previousExpiresAt = changes.previous_secret_expires_at;
      await repo.update(clientId, changes, [
        buildEvent('application.secret_rotated', row.owner_id, { client_id: clientId }, t),
        deps.audit.event(
          'application.secret_rotated',
          {
            account: row.owner_id,
            target: { type: 'application', id: clientId },
            data: { name: row.name, overlap_seconds: overlap },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'application', id: clientId });
      return {
        ...view({ ...row, ...changes }),
        client_secret: secret,
        previous_secret_expires_at: previousExpiresAt === null ? null : new Date(previousExpiresAt).toISOString(),
      };
    },

    /**
     * A self-registered client's row and secret (the caller stores both, see features/registration),
     * checked by the same rules as a person's registration.
     */
    draftRegistered: (
      ownerId: string,
      data: CreateApplicationInput,
      registration: { review_state: ReviewState; registration_token_hash: string; registered_with: string | null },
    ) => draftNew(ownerId, data, { registration: 'dynamic', ...registration }),

    /** A self-registered client's row after its own update (RFC 7592), checked as any update is. */
    draftRegisteredChange: (row: ApplicationRow, data: UpdateApplicationInput) => draftChange(row, data),

    /** Tells every cache that this application changed (here and on the other instances). */
    changed(clientId: string): void {
      events.publish({ kind: 'application', id: clientId });
    },

    /** Deletes a self-registered client at its own request (RFC 7592 §2.3), with everything issued to it. */
    async removeRegistered(row: ApplicationRow, by: Provenance): Promise<void> {
      await repo.deleteWithArtifacts(row.client_id, [
        buildEvent('application.deleted', row.owner_id, { client_id: row.client_id, name: row.name }, now()),
        deps.audit.event(
          'application.deleted',
          {
            account: row.owner_id,
            target: { type: 'application', id: row.client_id },
            data: { name: row.name, registration: row.registration },
            actor: clientActor(row),
          },
          by,
        ),
      ]);
      events.publish({ kind: 'application', id: row.client_id });
    },

    /**
     * Approves a self-registered client (the consent page stops warning about it) or rejects it:
     * it stops working at once (authorize, token, introspection, its tokens at /v2) and every
     * grant and token it holds is deleted. Its owner or an admin decides; approving again undoes a rejection.
     */
    async review(
      caller: Principal,
      clientId: string,
      decision: ReviewDecision,
      by: Provenance,
    ): Promise<ApplicationView> {
      const row = manageable(caller, await repo.findById(clientId));
      if (row.registration !== 'dynamic') {
        throw new ValidationError('decision: only a self-registered application is reviewed', 'decision');
      }
      const state: ReviewState = decision === 'approve' ? 'approved' : 'rejected';
      const t = now();
      await repo.review(clientId, state, t, [
        deps.audit.event(
          'application.changed',
          {
            account: row.owner_id,
            target: { type: 'application', id: clientId },
            data: { name: row.name, fields: ['review_state'], review_state: state },
          },
          by,
        ),
      ]);
      events.publish({ kind: 'application', id: clientId });
      return view({ ...row, review_state: state, updated_at: t });
    },

    /** Every self-registered client awaiting review, whoever owns it (admins review them). */
    async listAwaitingReview(caller: Principal): Promise<ApplicationView[]> {
      if (!caller.isAdmin) throw new NotYours();
      return (await repo.listAwaitingReview()).map(view);
    },

    /** When the previous secret of an application stops working, while an overlap runs (else null). */
    async previousSecretExpiry(caller: Principal, clientId: string): Promise<string | null> {
      const previous = previousSecretOf(manageable(caller, await repo.findById(clientId)), now());
      return previous ? new Date(previous.expires_at).toISOString() : null;
    },

    /** The application for these client credentials (constant-time secret check), or null. */
    async authenticateClient(
      clientId: string,
      secret: string,
    ): Promise<{ client_id: string; type: ApplicationType } | null> {
      const row = await findForAuth(clientId);
      const t = now();
      if (!row?.secret_hash || !clientSecretAccepted(secret, clientMetadataOf(row, t), t)) return null;
      return { client_id: row.client_id, type: row.type as ApplicationType };
    },

    /** Client metadata for oidc-provider, or undefined for an unknown client id. */
    async clientMetadata(clientId: string): Promise<AdapterPayload | undefined> {
      const row = await findForAuth(clientId);
      return row ? clientMetadataOf(row, now()) : undefined;
    },

    /**
     * `clientMetadata` when the application's row is remembered (no wait); undefined when it is
     * not, or when it is refused (then `clientMetadata`, which gives none for it either).
     */
    clientMetadataRemembered(clientId: string): AdapterPayload | undefined {
      const row = cache.get(clientId);
      return row && !isRefused(row) ? clientMetadataOf(row, now()) : undefined;
    },

    /** Whether the application exists (its tokens are valid only while it does). */
    async exists(clientId: string): Promise<boolean> {
      return (await findForAuth(clientId)) !== undefined;
    },

    /** `exists` when the application's row is remembered (no wait), else undefined. */
    existsRemembered(clientId: string): boolean | undefined {
      const row = cache.get(clientId);
      return row === undefined ? undefined : !isRefused(row);
    },

    /**
     * Whether a page of this origin may call the API with an application's tokens (CORS): it is a
     * redirect URI's origin or an allowed origin of some application.
     */
    async browserOriginAllowed(origin: string): Promise<boolean> {
      return (await origins.get()).has(origin);
    },

    /** What token exchange needs of the calling application: its type, its API, the APIs it may exchange for. */
    async exchangeCaller(
      clientId: string,
    ): Promise<{ type: ApplicationType; api: string | null; tokenExchange: string[] } | null> {
      const row = await findForAuth(clientId);
      if (!row) return null;
      return { type: row.type as ApplicationType, api: row.api, tokenExchange: JSON.parse(row.token_exchange) };
    },

    /** The account that registered an application (client-credentials tokens act for it). */
    async ownerOf(clientId: string): Promise<string | null> {
      return (await findForAuth(clientId))?.owner_id ?? null;
    },
  };
}
export type ApplicationsService = ReturnType<typeof createApplicationsService>;

/**
 * Every origin some application's pages run on, as one set: a CORS request then costs a set lookup.
 * It is read again after any application or account change (here, or on another instance through
 * the credential events), and at the latest after `ttlMs`; concurrent reloads share one query.
 */
function browserOriginsCache(repo: ApplicationsRepo, ttlMs: number, now: () => number) {
  let current: { origins: Set<string>; loadedAt: number } | null = null;
  let loading: Promise<Set<string>> | null = null;
  let generation = 0;

  async function load(): Promise<Set<string>> {
    const started = generation;
    const rows = await repo.listBrowserOrigins();
    const origins = new Set(
      rows.flatMap((row) => [
        ...redirectOrigins(JSON.parse(row.redirect_uris) as string[]),
        ...(JSON.parse(row.allowed_origins) as string[]),
      ]),
    );
    // A change that arrived during the query leaves the set unsaved: the next request reads again.
    if (started === generation) current = { origins, loadedAt: now() };
    return origins;
  }

  return {
    async get(): Promise<Set<string>> {
      if (current && now() - current.loadedAt < ttlMs) return current.origins;
      loading ??= load().finally(() => {
        loading = null;
      });
      return loading;
    },
    invalidate(): void {
      generation++;
      current = null;
    },
  };
}
