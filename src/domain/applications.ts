export const APPLICATION_TYPES = ['web', 'spa', 'native', 'service', 'resource_server'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** Public applications cannot keep a secret: they authenticate with PKCE alone. */
export const isPublicType = (t: ApplicationType) => t === 'spa' || t === 'native';
/** Types that take part in the browser flow and so need redirect URIs. */
export const usesRedirects = (t: ApplicationType) => t === 'web' || t === 'spa' || t === 'native';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why a redirect URI is unacceptable, or null. https anywhere; http only on loopback (RFC 8252
 * §7.3, and local development); native apps may also use a private-use scheme (RFC 8252 §7.1).
 * Fragments are forbidden (RFC 6749 §3.1.2). Matching at authorize time is exact.
 */
export function redirectUriProblem(uri: string, type: ApplicationType): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:')
    return LOOPBACK_HOSTS.has(url.hostname) ? null : 'must use https (http is allowed only for loopback hosts)';
  if (type === 'native' && /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol)) return null;
  return type === 'native'
    ? 'must use https, http on loopback, or a private-use scheme such as com.example.app:/callback'
    : 'must use https (http is allowed only for loopback hosts)';
}

/** The links an application may register for the consent page (RFC 7591 client metadata names). */
export const APPLICATION_LINKS = ['logo_uri', 'client_uri', 'policy_uri', 'tos_uri'] as const;
export type ApplicationLink = (typeof APPLICATION_LINKS)[number];

/**
 * Why a link shown on the consent page is unacceptable, or null. https only (a person's browser
 * opens it, and an http logo on an https page would be blocked or leak); http only on loopback,
 * for local development. No credentials in it: the page would show them.
 */
export function webLinkProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return null;
  return 'must use https (http is allowed only for loopback hosts)';
}

/**
 * Why a logout address (a post-logout redirect URI, a back-channel logout URI) is unacceptable, or
 * null: https, http only on loopback (local development), no fragment (OpenID Connect RP-Initiated
 * and Back-Channel Logout 1.0), no credentials. Post-logout redirects match exactly.
 */
export function logoutUriProblem(uri: string): string | null {
  if (uri.includes('#')) return 'must not contain a fragment';
  return webLinkProblem(uri);
}

/**
 * OpenID subject types (Core §8): `public` gives every application the account id as `sub`;
 * `pairwise` gives each sector (the host of the application's redirect URIs) its own identifier
 * for the same person, so applications cannot match their users up through `sub`.
 */
export const SUBJECT_TYPES = ['public', 'pairwise'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

/**
 * `require_pkce` when a registration does not say: on, except for a `web` application, whose
 * documented API registration and code flow (no code_challenge) must keep working as written. The
 * dashboard's form, where a person chooses, starts with it on.
 */
export const defaultRequirePkce = (type: ApplicationType): boolean => type !== 'web';

/**
 * Why an application of this type may not have PKCE optional, or null. A public client has no
 * secret: PKCE is all that binds its code to it (RFC 9700 §2.1.1). Only a confidential `web`
 * application may use the plain code flow (OpenID Connect Basic clients do not send PKCE).
 */
export function optionalPkceProblem(type: ApplicationType): string | null {
  if (isPublicType(type)) return `a ${type} application is a public client and must always use PKCE`;
  if (type !== 'web') return `a ${type} application does not use the authorization code flow`;
  return null;
}

/** Whether an application may use the device flow when its registration does not say: native ones. */
export const defaultDeviceFlow = (type: ApplicationType): boolean => type === 'native';

/** Why an application of this type may not use the device flow, or null: only types that sign people in may. */
export function deviceFlowProblem(type: ApplicationType): string | null {
  return usesRedirects(type) ? null : `a ${type} application signs nobody in, so it cannot use the device flow`;
}

/**
 * Why an application cannot be `pairwise`, or null. The sector is the host of its redirect URIs, so
 * they must all have one (a sector_identifier_uri listing several hosts is not supported).
 */
export function pairwiseProblem(type: ApplicationType, redirectUris: readonly string[]): string | null {
  if (!usesRedirects(type)) return `a ${type} application signs nobody in, so it has no subject identifiers`;
  const hosts = new Set(redirectUris.filter((u) => URL.canParse(u)).map((u) => new URL(u).host));
  return hosts.size > 1
    ? 'a pairwise application needs all its redirect URIs on one host (its sector); register one application per host'
    : null;
}

/**
 * Why an application of this type cannot require pushed authorization requests (RFC 9126), or
 * null: only applications that send people to the authorization endpoint make such requests.
 */
export function requiredParProblem(type: ApplicationType): string | null {
  return usesRedirects(type) ? null : `a ${type} application makes no authorization requests`;
}

/**
 * Why an application of this type cannot require DPoP-bound tokens (RFC 9449), or null: a
 * resource server is issued no tokens, it only introspects them.
 */
export function requiredDpopProblem(type: ApplicationType): string | null {
  return type === 'resource_server' ? 'a resource_server application is issued no tokens' : null;
}

/**
 * Why a browser origin an application's pages run on is unacceptable, or null: exactly an origin
 * (`scheme://host[:port]`, no path, no trailing slash), https, or http on loopback for local
 * development. The API answers CORS for it, so it must name a site and nothing more.
 */
export function originProblem(origin: string): string | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'is not an origin such as https://app.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https (or http on a loopback host)';
  if (url.origin !== origin) return 'must be an origin only (scheme, host and port; no path, no trailing slash)';
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    return 'must use https (http is allowed only for loopback hosts)';
  }
  return null;
}

/** The origins of an application's redirect URIs that a browser page can have (http and https ones). */
export const redirectOrigins = (redirectUris: readonly string[]): string[] =>
  redirectUris
    .filter((uri) => URL.canParse(uri))
    .map((uri) => new URL(uri))
    .filter((url) => url.protocol === 'https:' || url.protocol === 'http:')
    .map((url) => url.origin);

/**
 * Why an application of this type may not call the APIs from browser pages of other origins, or
 * null: a service or a resource server has no pages.
 */
export const allowedOriginsProblem = (type: ApplicationType): string | null =>
  usesRedirects(type) ? null : `a ${type} application has no browser pages`;

/** RFC 8693's grant type: exchanging a person's token for one to another API, acting for them. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/**
 * Why an application of this type may not exchange a person's token (RFC 8693), or null: only a
 * confidential client, which authenticates itself, may act on someone's behalf.
 */
export const tokenExchangeProblem = (type: ApplicationType): string | null =>
  isPublicType(type) ? `a ${type} application is a public client and cannot exchange tokens` : null;
