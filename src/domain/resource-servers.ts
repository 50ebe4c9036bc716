/**
 * APIs ("resource servers"): what an access token is for. Each has an identifier (the RFC 8707
 * `resource` a client names, and the token's `aud`), its own scopes, and how its access tokens are
 * made. The built-in one is Latchkey's own `/v2` API, with the seed's scopes; owners register more.
 */
export interface ResourceServerScope {
  name: string;
  description: string;
}

export const ACCESS_TOKEN_FORMATS = ['opaque', 'jwt'] as const;
export type AccessTokenFormat = (typeof ACCESS_TOKEN_FORMATS)[number];

export interface ResourceServer {
  /** `api_...` for a registered API; null for the built-in one (it has no row). */
  id: string | null;
  /** Absolute URL: the `resource` parameter and the access token's audience. */
  identifier: string;
  name: string;
  scopes: ResourceServerScope[];
  accessTokenFormat: AccessTokenFormat;
  /** Seconds. */
  accessTokenTtl: number;
  /** The account that registered it; null for the built-in API. */
  ownerId: string | null;
  builtIn: boolean;
}

/** OpenID Connect's scopes: never an API's. */
export const OPENID_SCOPE_NAMES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];

/** Access token lifetimes an API may choose: one minute to one day, as ACCESS_TOKEN_TTL. */
export const MIN_ACCESS_TOKEN_TTL = 60;
export const MAX_ACCESS_TOKEN_TTL = 86_400;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why an API identifier is unacceptable, or null. An absolute https URL (http only on loopback, for
 * local development), without a fragment (RFC 8707 §2) or credentials; it is compared exactly.
 */
export function apiIdentifierProblem(identifier: string): string | null {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || identifier.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return 'must use https (http is allowed only for loopback hosts)';
}

/**
 * Why a scope name is unacceptable, or null. Scope tokens are printable ASCII without spaces,
 * quotes or backslashes (RFC 6749 §3.3); `reserved` are the names already taken by the built-in
 * API and OpenID Connect.
 */
export function apiScopeNameProblem(name: string, reserved: ReadonlySet<string>): string | null {
  if (!/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/.test(name)) {
    return 'must be 1-100 printable ASCII characters without spaces, quotes or backslashes';
  }
  if (reserved.has(name)) return 'is reserved (a built-in or OpenID Connect scope)';
  return null;
}
