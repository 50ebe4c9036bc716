import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { TOKEN_EXCHANGE_GRANT, type ApplicationType } from '../domain/applications.ts';
import type { ResourceServer } from '../domain/resource-servers.ts';
import { GRANT_CLAIM } from '../auth/oauth-tokens.ts';

export { TOKEN_EXCHANGE_GRANT };
/** RFC 8693 §2.1: the one token type Latchkey takes and issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** The request parameters of the grant (RFC 8693 §2.1), besides grant_type and client authentication. */
export const TOKEN_EXCHANGE_PARAMS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
];

/** RFC 8693 §4.1: who acts for the subject; nested when the subject token was itself delegated. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

/** A person's access token issued by us, as presented for exchange. */
export interface SubjectToken {
  /** The application it was issued to. */
  clientId: string;
  /** The grant it was issued under (the person's consent to that application): its id when known (opaque tokens). */
  grantId?: string;
  /** The SHA-256 of the grant's id (all a JWT access token names). */
  grantIdHash: string;
  audiences: string[];
  /** Epoch seconds. */
  exp: number;
  act?: ActClaim;
}

/** A person's standing grant to an application. */
export interface PersonGrant {
  accountId: string;
  clientId: string;
  /** The scopes granted for an API (less those refused). */
  scopesFor(resource: string): string[];
}

/** The application asking for the exchange. */
export interface ExchangeCaller {
  type: ApplicationType;
  /** A resource server's API (its identifier; null: the built-in API). */
  api: string | null;
  /** The APIs it may obtain exchanged tokens for, by identifier. */
  tokenExchange: string[];
}

export interface TokenExchangeDeps {
  /** The API an identifier names (the built-in one included), or undefined. */
  findApi(identifier: string): Promise<ResourceServer | undefined>;
  caller(clientId: string): Promise<ExchangeCaller | null>;
  /**
   * A live, unbound access token of a person, issued by this server (opaque or JWT), with the
   * grant it stands on; null for anything else (expired, revoked, a client's own token, unknown).
   */
  subjectToken(provider: Provider, token: string): Promise<SubjectToken | null>;
  /** The grant of this id hash, while it stands; null once revoked or expired. */
  grant(grantIdHash: string): Promise<PersonGrant | null>;
  /** The built-in API's identifier (API_RESOURCE): the API of a resource server that names none. */
  builtInApi: string;
  now(): number;
}

type Params = Record<string, string | undefined>;

/**
 * The token exchange grant (RFC 8693) at /oauth/token: a confidential application allowed to
 * exchange for an API trades a person's access token that was presented to it for a token to that
 * API, acting for the same person with an `act` claim naming itself. It never widens: the scopes
 * are at most what the person granted (in the subject token's grant) for that API, its lifetime
 * at most the subject token's, and it stands on the same grant (revoking that ends it too). No
 * refresh token. Each request is its steps, top to bottom:
 *
 *   read the parameters → the target API → the caller may exchange for it → the subject token
 *   (live, a person's, presented to the caller) → the scopes (never wider) → mint and answer.
 */
export function tokenExchangeGrant(provider: Provider, deps: TokenExchangeDeps) {
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const params = readParams(ctx.oidc.params as Params);
    const client = ctx.oidc.client!;
    const target = await deps.findApi(params.target);
    if (!target) throw new errors.InvalidTarget(`no API has the identifier ${params.target}`);
    const caller = await deps.caller(client.clientId);
    if (!caller || client.clientAuthMethod === 'none' || !caller.tokenExchange.includes(target.identifier)) {
      throw new errors.UnauthorizedClient('this application may not exchange tokens for this API');
    }
    const subject = await deps.subjectToken(provider, params.subjectToken);
    if (!subject) throw new errors.InvalidGrant('subject_token is not an active access token of a person');
    if (!presentedTo(subject, client.clientId, caller, deps.builtInApi)) {
      throw new errors.InvalidGrant('subject_token was not issued to this application or for its API');
    }
    const grant = await deps.grant(subject.grantIdHash);
    // An exchanged token stands on the grant of the application the person signed in to, not its own.
    if (!grant || (grant.clientId !== subject.clientId && !subject.act)) {
      throw new errors.InvalidGrant('the grant of subject_token is no longer valid');
    }
    const scope = narrowedScope(grant.scopesFor(target.identifier), target, params.scope);
    const remaining = subject.exp - Math.floor(deps.now() / 1000);
    if (remaining <= 0) throw new errors.InvalidGrant('subject_token has expired');
    // The new token stands on the person's grant, so revoking that ends it: a stored (opaque)
    // token through the grant's id, a JWT through the grant's hash, which is all a JWT names.
    const jwt = target.accessTokenFormat === 'jwt';
    if (!subject.grantId && !jwt) {
      throw new errors.InvalidRequest('a JWT subject_token can be exchanged only for a JWT access token');
    }

    const act: ActClaim = { sub: client.clientId, ...(subject.act ? { act: subject.act } : {}) };
    const token = new provider.AccessToken({
      accountId: grant.accountId,
      client,
      ...(subject.grantId ? { grantId: subject.grantId } : {}),
      gty: 'token_exchange',
      scope,
      expiresIn: Math.min(remaining, target.accessTokenTtl),
      extra: { act, ...(subject.grantId ? {} : { [GRANT_CLAIM]: subject.grantIdHash }) },
      resourceServer: resourceServerOf(target),
    } as never);
    ctx.oidc.entity('AccessToken', token);
    const value = await token.save();
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: token.tokenType,
      expires_in: token.expiration,
      scope,
    };
  };
}

/** The parameters, each checked as RFC 8693 §2.1 has it; refusals are invalid_request. */
function readParams(params: Params): { subjectToken: string; target: string; scope: string | undefined } {
  const subjectToken = params['subject_token'];
  if (!subjectToken) throw new errors.InvalidRequest('missing required parameter subject_token');
  if (params['subject_token_type'] !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  if (params['actor_token'] !== undefined || params['actor_token_type'] !== undefined) {
    // The caller is the actor; it authenticates as itself, so no actor token is taken.
    throw new errors.InvalidRequest('actor_token is not supported: the authenticated application is the actor');
  }
  const requested = params['requested_token_type'];
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  const { resource, audience } = params;
  if (resource !== undefined && audience !== undefined && resource !== audience) {
    throw new errors.InvalidTarget('resource and audience must name the same API');
  }
  const target = resource ?? audience;
  if (!target) throw new errors.InvalidTarget('name the API the token is for with resource (or audience)');
  return { subjectToken, target, scope: params['scope'] };
}

/**
 * Whether the subject token reached the caller legitimately: it was issued to the caller itself,
 * or it is for the API the caller is the resource server of (the token its own callers present).
 */
function presentedTo(subject: SubjectToken, clientId: string, caller: ExchangeCaller, builtInApi: string): boolean {
  if (subject.clientId === clientId) return true;
  return caller.type === 'resource_server' && subject.audiences.includes(caller.api ?? builtInApi);
}

/**
 * The scopes of the new token: what the person granted for the target API (less what they
 * refused), within the API's scopes, within what was asked for (all of that when nothing was).
 * Asking for anything outside is invalid_scope, as is ending with nothing.
 */
function narrowedScope(granted: string[], target: ResourceServer, requested: string | undefined): string {
  const apiScopes = new Set(target.scopes.map((s) => s.name));
  const grantedForApi = granted.filter((s) => apiScopes.has(s));
  if (requested === undefined) {
    if (grantedForApi.length === 0) throw new errors.InvalidScope('the person granted no scope of this API', '');
    return grantedForApi.join(' ');
  }
  const asked = requested.split(' ').filter(Boolean);
  const beyond = asked.filter((s) => !grantedForApi.includes(s));
  if (beyond.length)
    throw new errors.InvalidScope(`scope not granted for this API: ${beyond.join(' ')}`, beyond.join(' '));
  if (asked.length === 0) throw new errors.InvalidScope('scope is empty', '');
  return [...new Set(asked)].join(' ');
}

/** How oidc-provider mints a token for the API: its audience, format and signing. */
function resourceServerOf(api: ResourceServer) {
  return {
    audience: api.identifier,
    scope: api.scopes.map((s) => s.name).join(' '),
    accessTokenTTL: api.accessTokenTtl,
    ...(api.accessTokenFormat === 'jwt'
      ? { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
      : { accessTokenFormat: 'opaque' }),
    identifier: () => api.identifier,
  };
}
