import type Provider from 'oidc-provider';
import type { AppContext, OAuthParams, PresentedClient } from '../http/context.ts';
import type { IntrospectingClient, IntrospectionPolicy } from './introspection-policy.ts';

export interface ProviderIntrospectionDeps {
  provider: Provider;
  /** The policy oidc-provider is configured with (provider.ts): the very same function. */
  mayIntrospect: IntrospectionPolicy;
  /** The `sub` an application knows an account by (oidc-provider's `pairwiseIdentifier`, pairwise.ts). */
  subjectFor(client: { subjectType?: string; sectorIdentifier?: unknown }, accountId: string): string;
}

/** An access token as oidc-provider's AccessToken and ClientCredentials models load it. */
interface LoadedAccessToken {
  kind: string;
  jti: string;
  clientId?: string;
  accountId?: string;
  grantId?: string;
  exp?: number;
  iat?: number;
  sid?: string;
  aud?: string | string[];
  scope?: string;
  extra?: Record<string, unknown>;
  rar?: unknown;
  jkt?: string;
  'x5t#S256'?: string;
  isValid: boolean;
  tokenType: string;
  isSenderConstrained(): boolean;
}

/** What a client model offers here (extra metadata under its own name, as in the policy). */
type ClientModel = IntrospectingClient & {
  clientAuthMethod?: string;
  clientSecret?: string;
  clientSecretExpiresAt?: number;
  subjectType?: string;
};

const REFRESH_TOKEN_HINTS = new Set(['refresh_token', 'urn:ietf:params:oauth:token-type:refresh_token']);
/** The parameters oidc-provider reads at introspection (the rest of the body it ignores). */
const READ_PARAMS = ['token', 'token_type_hint', 'client_id', 'client_secret'] as const;
const ONLY_VSCHAR = /^[\x20-\x7E]*$/;

/** oidc-provider's check of a Basic header's base64 (lib/shared/client_auth.js). */
function isValidBase64(input: string): boolean {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(input);
  if (!match?.[1]) return false;
  const remainder = match[1].length % 4;
  if (!match[2]) return remainder !== 1;
  return (match[1].length + match[2].length) % 4 === 0 && match[2].length === 4 - remainder;
}

/** One part of a Basic header as oidc-provider decodes it, or null where it refuses it. */
function decodeAuthPart(part: string): string | null {
  try {
    const decoded = decodeURIComponent(part.replace(/\+/g, '%20'));
    return ONLY_VSCHAR.test(decoded) ? decoded : null;
  } catch {
    return null;
  }
}

/** The client id and secret oidc-provider reads from a Basic header, or null where it refuses the header. */
function providerBasicCredentials(header: string): { id: string; secret: string } | null {
  const parts = header.split(' ');
  if (parts.length !== 2 || parts[0]!.toLowerCase() !== 'basic' || !isValidBase64(parts[1]!)) return null;
  const decoded = Buffer.from(parts[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const id = decodeAuthPart(decoded.slice(0, colon));
  const secret = decodeAuthPart(decoded.slice(colon + 1));
  return id !== null && secret ? { id, secret } : null;
}

/** A parameter as oidc-provider's Params holds it: an empty one is absent. */
const paramOf = (params: OAuthParams, name: string) => (params[name] as string | undefined) || undefined;

/**
 * Whether oidc-provider would take this request, as it stands, to its answer: a body it reads, no
 * repeated parameter, a token, no CORS origin to check, and the client authenticated by one
 * mechanism that yields the very id and secret authenticateClientOnce compared and found matching.
 */
function plainRequest(ctx: AppContext, params: OAuthParams, client: PresentedClient): boolean {
  if ((ctx.request as { body?: unknown }).body !== params || !client.checked?.matched) return false;
  const headers = ctx.headers;
  if (headers.origin !== undefined) return false;
  if (headers['oauth-client-attestation'] !== undefined || headers['oauth-client-attestation-pop'] !== undefined) {
    return false;
  }
  for (const name of READ_PARAMS) if (Array.isArray(params[name])) return false;
  const token = paramOf(params, 'token');
  if (!token || token.includes('.')) return false;
  const hint = paramOf(params, 'token_type_hint');
  if (hint !== undefined && REFRESH_TOKEN_HINTS.has(hint)) return false;
  const bodyId = paramOf(params, 'client_id');
  const bodySecret = paramOf(params, 'client_secret');
  if (headers.authorization !== undefined) {
    const basic = bodySecret === undefined ? providerBasicCredentials(headers.authorization) : null;
    return (
      basic !== null &&
      basic.id === client.id &&
      basic.secret === client.secret &&
      (bodyId === undefined || bodyId === basic.id)
    );
  }
  return bodySecret !== undefined && bodyId === client.id && bodySecret === client.secret;
}

/** CORS headers set before the endpoint: oidc-provider's CORS step then leaves the answer's alone. */
function corsHeadersSet(ctx: AppContext): boolean {
  for (const name of Object.keys(ctx.response.headers)) if (name.startsWith('access-control-')) return true;
  return false;
}

/**
 * oidc-provider's answer at its introspection endpoint (`lib/actions/introspection.js`), given
 * here without passing the request through its stack, for the case every resource server makes
 * all day: a plain request about a live access token. The token, its grant and the clients are
 * loaded through oidc-provider's own models (on our adapter and its caches), the same policy
 * decides, and the body and headers are built field by field as it builds them. Anything else
 * (a refresh token, an unknown token, a request it would refuse or must check further) is left
 * to oidc-provider itself: the answer is false, and the caller passes the request on.
 */
export function createProviderIntrospection(deps: ProviderIntrospectionDeps) {
  const { provider } = deps;

  async function accessTokenOf(value: string): Promise<LoadedAccessToken | undefined> {
    const found = (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value));
    return found as unknown as LoadedAccessToken | undefined;
  }

  /** What `renderTokenResponse` answers for a token it found (its `active: false` cases included). */
  async function describe(caller: ClientModel, token: LoadedAccessToken, presented: string) {
    const body: Record<string, unknown> = { active: false };
    if (!token.isValid) return body;
    if (token.grantId) {
      const grant = await provider.Grant.find(token.grantId, { ignoreExpiration: true });
      if (!grant || grant.isExpired || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
        return body;
      }
    }
    if (!(await deps.mayIntrospect(caller, token))) return body;
    if (token.accountId) {
      const owner =
        token.clientId === caller.clientId ? caller : ((await provider.Client.find(token.clientId!)) as ClientModel);
      body['sub'] = owner.subjectType === 'pairwise' ? deps.subjectFor(owner, token.accountId) : token.accountId;
    }
    Object.assign(body, {
      ...token.extra,
      active: true,
      client_id: token.clientId,
      exp: token.exp,
      iat: token.iat,
      sid: token.sid,
      iss: provider.issuer,
      jti: token.jti !== presented ? token.jti : undefined,
      aud: token.aud,
      authorization_details: undefined,
      scope: token.scope || undefined,
      cnf: token.isSenderConstrained() ? {} : undefined,
      token_type: token.tokenType,
    });
    const cnf = body['cnf'] as Record<string, unknown> | undefined;
    if (token['x5t#S256']) cnf!['x5t#S256'] = token['x5t#S256'];
    if (token.jkt) cnf!['jkt'] = token.jkt;
    return body;
  }

  /**
   * Answers the request as oidc-provider would (status, headers, body) and says so; false when the
   * request is not one answered here, with nothing set.
   */
  return async function answer(ctx: AppContext, client: PresentedClient): Promise<boolean> {
    const params = ctx.state.oauthParams ?? {};
    if (!plainRequest(ctx, params, client) || corsHeadersSet(ctx)) return false;
    let body: Record<string, unknown>;
    try {
      const caller = (await provider.Client.find(client.id)) as ClientModel | undefined;
      const method = caller?.clientAuthMethod;
      if (method !== 'client_secret_basic' && method !== 'client_secret_post') return false;
      if (caller!.clientSecret !== client.checked!.storedHash || caller!.clientSecretExpiresAt) return false;
      const presented = paramOf(params, 'token')!;
      const token = await accessTokenOf(presented);
      // Rich authorization details: oidc-provider describes them with a hook of its own.
      if (!token || token.rar !== undefined) return false;
      body = await describe(caller!, token, presented);
    } catch {
      // A failure (the database, a client oidc-provider cannot load) is answered in its words.
      return false;
    }
    // The headers of the endpoint's CORS and no-cache steps, in their order and spelling.
    ctx.vary('Origin');
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
    return true;
  };
}
export type ProviderIntrospection = ReturnType<typeof createProviderIntrospection>;
