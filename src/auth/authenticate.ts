import type { Middleware } from 'koa';
import { AppError, invalidToken } from '../http/errors.ts';
import type { AppState } from '../http/context.ts';
import { toAppError } from '../http/domain-errors.ts';
import { declaresBody } from '../http/drain-body.ts';
import type { ApiKeysService } from '../features/api-keys/api-keys.service.ts';
import { looksLikeApiKey } from '../features/api-keys/key-format.ts';
import { AddressRefused } from '../features/api-keys/api-keys.service.ts';
import { sha256 } from '../shared/secrets.ts';
import type { Credential } from '../domain/credential.ts';
import type { OAuthTokenVerifier } from './oauth-tokens.ts';
import { ADMIN_SCOPE } from '../domain/scopes.ts';
import type { SharedJwtVerifier } from './shared-jwt.ts';
import type { TtlCache } from '../shared/ttl-cache.ts';
import type { AccountRightsLookup, Standing } from './account-rights.ts';
import { principalFrom, sessionPrincipal, type AccountRights, type Principal } from '../domain/principal.ts';
import { DPOP_SIGNING_ALGS, DpopProofRefused, type DpopProofVerifier, type DpopRequest } from './dpop-proof.ts';

export interface AuthenticatorDeps {
  apiKeys: ApiKeysService;
  oauth: OAuthTokenVerifier;
  /** Null when JWT_SECRET is not configured: shared-secret JWTs are then refused. */
  sharedJwt: SharedJwtVerifier | null;
  /** What each account may hold now (effective scopes are computed from it on every use). */
  rights: AccountRightsLookup;
  /** Whether the application a token was issued to still exists (a deleted one's tokens are dead). */
  applicationExists(clientId: string): Promise<boolean>;
  /** `applicationExists` when the answer is remembered (no wait), else undefined. */
  applicationRemembered(clientId: string): boolean | undefined;
  /** Accept RFC 9068 JWT access tokens (ACCESS_TOKEN_FORMAT=jwt); opaque-only servers refuse them. */
  jwtAccessTokens: boolean;
  /** Shared-secret JWTs already verified (signature and claims), by the token itself. */
  sharedJwtCache: TtlCache<Credential>;
  /** Checks the DPoP proof that comes with a DPoP-bound token (RFC 9449 §7). */
  dpopProofs: DpopProofVerifier;
  now(): number;
}

/** A DPoP proof as a request presents it (the token it must be for is the one presented with it). */
export type PresentedProof = Omit<DpopRequest, 'accessToken'>;

/** A refusal of a request made with the DPoP scheme: its proof, or the token it came with. */
const dpopRefusal = (error: 'invalid_dpop_proof' | 'invalid_token') =>
  new AppError('UNAUTHORIZED', 'Invalid or missing authentication credentials', undefined, {
    'WWW-Authenticate': `DPoP error="${error}", algs="${DPOP_SIGNING_ALGS.join(' ')}"`,
  });

function jwtHeader(token: string): { alg?: unknown; typ?: unknown } | null {
  try {
    return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as {
      alg?: unknown;
      typ?: unknown;
    };
  } catch {
    return null;
  }
}

/** Resolves a bearer token (API key, OAuth access token, or shared-secret JWT) to its principal. */
export function createAuthenticator(deps: AuthenticatorDeps) {
  /** Signature and claims are checked once per token (its expiry on every use, below). */
  function verifySharedJwt(verifier: SharedJwtVerifier, token: string): Credential | null {
    const hit = deps.sharedJwtCache.get(token);
    if (hit) return hit;
    const credential = verifier.verify(token);
    if (credential) deps.sharedJwtCache.set(token, credential);
    return credential;
  }

  /**
   * The principal of a checked credential, with the rights its account holds *now*: a token whose
   * application or account is gone is no longer valid; a JWT naming a gone account holds nothing.
   */
  async function principalOf(credential: Credential): Promise<Principal> {
    if (credential.clientId !== undefined && !(await deps.applicationExists(credential.clientId))) throw invalidToken();
    if (credential.userId === null) {
      // Only a shared-secret JWT may name no account: its signer's own scopes apply.
      if (credential.method !== 'jwt') throw invalidToken();
      return principalWith(credential, undefined);
    }
    return principalStanding(credential, await deps.rights.standing(credential.userId));
  }

  /** A disabled account's credentials are refused outright, a shared-secret JWT naming it too. */
  function principalStanding(credential: Credential, { rights, disabled }: Standing): Principal {
    if (disabled) throw invalidToken();
    if (!rights && credential.method !== 'jwt') throw invalidToken();
    return principalWith(credential, rights);
  }

  /**
   * The principals made, by the credential they were made from and the rights they hold. A
   * remembered credential (a cached key's, a verified JWT's, a token seen alive) and its account's
   * remembered rights are the same objects request after request, so the same frozen principal
   * serves them all instead of one built per request. Any change makes new objects (a key read
   * again, rights read again after a change), hence a new principal; a credential's entry goes
   * with the credential.
   */
  const principals = new WeakMap<Credential, { rights: AccountRights | null | undefined; principal: Principal }>();
  function principalWith(credential: Credential, rights: AccountRights | null | undefined): Principal {
    const kept = principals.get(credential);
    if (kept !== undefined && kept.rights === rights) return kept.principal;
    const principal = principalFrom(credential, rights);
    // Shared from now on: a change to its scopes would reach other requests, so none is allowed.
    Object.freeze(principal.scopes);
    principals.set(credential, { rights, principal });
    return principal;
  }

  /**
   * `principalOf` from what is remembered, without waiting; undefined when something has to be
   * read (an application's existence, an account's standing not remembered).
   */
  function rememberedPrincipal(credential: Credential): Principal | undefined {
    if (credential.clientId !== undefined) {
      const exists = deps.applicationRemembered(credential.clientId);
      if (exists === undefined) return undefined;
      if (!exists) throw invalidToken();
    }
    if (credential.userId === null) {
      if (credential.method !== 'jwt') throw invalidToken();
      return principalWith(credential, undefined);
    }
    const standing = deps.rights.rememberedStanding(credential.userId);
    return standing && principalStanding(credential, standing);
  }

  /**
   * `resolveCredential` for an API key whose row is remembered or read at once (SQLite), a
   * shared-secret JWT verified before or an opaque OAuth token seen alive before; undefined for
   * anything else.
   */
  function rememberedCredential(token: string, ip: string | null): Credential | undefined {
    if (looksLikeApiKey(token)) return deps.apiKeys.authenticateAtOnce(token, ip);
    const jwtShaped = token.split('.').length === 3;
    if (jwtShaped && !deps.sharedJwt) return undefined;
    const remembered = jwtShaped ? deps.sharedJwtCache.get(token) : deps.oauth.verifyRemembered(token);
    if (remembered && remembered.expiresAt !== null && remembered.expiresAt <= deps.now()) throw invalidToken();
    return remembered;
  }

  async function resolveCredential(token: string, ip: string | null): Promise<Credential> {
    let credential: Credential | null;
    if (looksLikeApiKey(token)) {
      return deps.apiKeys.authenticate(token, ip);
    } else if (token.split('.').length === 3) {
      // A token in this cache was verified as a shared-secret JWT (its header was read then).
      const verified = deps.sharedJwt ? deps.sharedJwtCache.get(token) : undefined;
      const header = verified ? null : jwtHeader(token);
      if (verified) credential = verified;
      // JWT access tokens only when they are what the server issues (ACCESS_TOKEN_FORMAT=jwt).
      else if (header?.typ === 'at+jwt') credential = deps.jwtAccessTokens ? await deps.oauth.verify(token) : null;
      else if (header?.alg === 'HS256' && deps.sharedJwt) credential = verifySharedJwt(deps.sharedJwt, token);
      else credential = null;
    } else {
      credential = await deps.oauth.verify(token);
    }
    if (!credential || (credential.expiresAt !== null && credential.expiresAt <= deps.now())) throw invalidToken();
    return credential;
  }

  /** The thumbprint of the key a valid proof for this token was signed with (else a DPoP refusal). */
  async function provenKey(token: string, proof: PresentedProof): Promise<string> {
    try {
      return await deps.dpopProofs({ ...proof, accessToken: token });
    } catch (err) {
      if (err instanceof DpopProofRefused) throw dpopRefusal('invalid_dpop_proof');
      throw err;
    }
  }

  return {
    /**
     * `ip` null skips API key allowlists (introspection: the resource server sees the caller).
     * With `proof` (the DPoP scheme) only an OAuth token bound to the proof's key is accepted;
     * without it (Bearer) only a token bound to no key (RFC 9449 §7.2).
     */
    async resolve(token: string, ip: string | null, proof: PresentedProof | null = null): Promise<Principal> {
      if (proof && looksLikeApiKey(token)) throw dpopRefusal('invalid_token');
      const key = proof ? await provenKey(token, proof) : null;
      let credential: Credential;
      try {
        credential = await resolveCredential(token, ip);
      } catch (err) {
        throw key !== null && err instanceof AppError ? dpopRefusal('invalid_token') : err;
      }
      if ((credential.dpopJkt ?? null) !== key) throw key !== null ? dpopRefusal('invalid_token') : invalidToken();
      return principalOf(credential);
    },
    /**
     * `resolve` of a Bearer credential (no proof) from what is remembered: the same principal, or
     * the same refusal, without waiting; undefined when the credential has to be read (then
     * `resolve`). A credential known at once whose account has to be read gives a promise: going
     * back to `resolve` would read the credential a second time.
     */
    resolveRemembered(token: string, ip: string | null): Principal | Promise<Principal> | undefined {
      const credential = rememberedCredential(token, ip);
      if (!credential) return undefined;
      if ((credential.dpopJkt ?? null) !== null) throw invalidToken();
      return rememberedPrincipal(credential) ?? principalOf(credential);
    },
    /**
     * For introspection: the token's principal and the DPoP key it is bound to, if any. The
     * resource server asking is not presenting the token, so no proof is asked for: it checks
     * the caller's proof against the `cnf.jkt` it is told.
     */
    async introspect(token: string): Promise<{ principal: Principal; dpopJkt: string | null }> {
      const credential = await resolveCredential(token, null);
      return { principal: await principalOf(credential), dpopJkt: credential.dpopJkt ?? null };
    },
    /**
     * For /oauth/userinfo: an OAuth access token only (never an API key or a shared-secret JWT),
     * checked as /v2 checks it (a key-bound one only with a proof of its key), with the credential
     * it was issued as (its grant).
     */
    async resolveAccessToken(
      token: string,
      proof: PresentedProof | null = null,
    ): Promise<{ principal: Principal; credential: Credential }> {
      const refused = () => (proof ? dpopRefusal('invalid_token') : invalidToken());
      const isJwt = token.split('.').length === 3;
      if (looksLikeApiKey(token) || (isJwt && (!deps.jwtAccessTokens || jwtHeader(token)?.typ !== 'at+jwt'))) {
        throw refused();
      }
      const key = proof ? await provenKey(token, proof) : null;
      const credential = await deps.oauth.verify(token);
      if (!credential || (credential.expiresAt !== null && credential.expiresAt <= deps.now())) throw refused();
      if ((credential.dpopJkt ?? null) !== key) throw refused();
      return { principal: await principalOf(credential), credential };
    },
    /** For introspection: an API key's principal and its allowlist, without an address check. */
    async inspectApiKey(token: string): Promise<InspectedApiKey> {
      const { credential, allowedIps } = await deps.apiKeys.inspect(token);
      return { principal: await principalOf(credential), allowedIps };
    },
    /**
     * `inspectApiKey` from what is remembered: the same principal and allowlist, or the same
     * refusal, without waiting; undefined when the key has to be read (then `inspectApiKey`), and
     * a promise when only its account has to be read (as `resolveRemembered`).
     */
    inspectApiKeyRemembered(token: string): InspectedApiKey | Promise<InspectedApiKey> | undefined {
      const inspected = deps.apiKeys.inspectAtOnce(token);
      if (!inspected) return undefined;
      const { credential, allowedIps } = inspected;
      const principal = rememberedPrincipal(credential);
      return principal
        ? { principal, allowedIps }
        : principalOf(credential).then((p) => ({ principal: p, allowedIps }));
    },
  };
}
export type Authenticator = ReturnType<typeof createAuthenticator>;
/** An API key as introspection sees it: whose it is, and the addresses it may be used from. */
export interface InspectedApiKey {
  principal: Principal;
  allowedIps: string[] | null;
}

/** `Authorization: Bearer <token>` (RFC 6750 §2.1: the b64token syntax); the token is group 1. */
export const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** `Authorization: DPoP <token>` (RFC 9449 §7.1: the same token68 syntax); the token is group 1. */
export const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The one authenticate step: `Authorization: Bearer <API key | OAuth access token | JWT>`, or,
 * where allowed, the dashboard session cookie. Puts `ctx.state.principal`, or, on failure,
 * `ctx.state.authError`, which `requireCredential` throws after the rate limiter has counted the
 * attempt against the caller's address (so guessing credentials is limited too).
 * A cookie-authenticated write must be JSON and come from our own origin (CSRF: a cross-site form
 * cannot send JSON without a CORS preflight, which is never granted).
 */
export function authenticate(
  authenticator: Authenticator,
  opts: { allowSession: boolean; origin: string },
): Middleware<AppState> {
  return async (ctx, next) => {
    await authenticateRequest(ctx, authenticator, opts);
    await next();
  };
}

/**
 * The authenticate step without a `next`, for a router's single step in front of its routes. A
 * promise only when something has to be read (a remembered credential is resolved at once).
 */
export function authenticateRequest(
  ctx: Parameters<Middleware<AppState>>[0],
  authenticator: Authenticator,
  opts: { allowSession: boolean; origin: string },
): void | Promise<void> {
  const refuse = (err: unknown) => {
    const refusal = toAppError(err);
    if (!refusal) throw err;
    ctx.state.authError = refusal;
    // A known key refused for its address is still that key: its log and its limits apply (it
    // acts on nothing, so it holds no scope).
    if (err instanceof AddressRefused) ctx.state.principal = principalFrom(err.credential, null);
  };
  try {
    const resolving = resolvePrincipal(ctx, authenticator, opts);
    if (resolving) return resolving.catch(refuse);
  } catch (err) {
    refuse(err);
  }
}

/** Throws the authenticate step's refusal, if it had one. */
export function requireCredential(): Middleware<AppState> {
  return async (ctx, next) => {
    assertCredential(ctx.state);
    await next();
  };
}

/** The check of `requireCredential`, for a step that runs it among others. */
export function assertCredential(state: AppState): void {
  if (state.authError) throw state.authError;
  if (!state.principal) throw invalidToken(null);
}

/** Puts the request's principal on its state; a promise only when it has to wait for a read. */
function resolvePrincipal(
  ctx: Parameters<Middleware<AppState>>[0],
  authenticator: Authenticator,
  opts: { allowSession: boolean; origin: string },
): void | Promise<void> {
  const header = ctx.get('Authorization');
  const dpop = DPOP.exec(header);
  const hold = (principal: Principal) => {
    ctx.state.principal = principal;
  };
  if (dpop) {
    // One proof, for this very request: its URL is built from ISSUER, never from the Host header.
    // Two DPoP headers arrive joined by a comma, which no JWT contains.
    const proof = ctx.get('DPoP');
    if (!proof || proof.includes(',')) throw dpopRefusal('invalid_dpop_proof');
    const presented = { proof, method: ctx.method, url: `${opts.origin}${ctx.path}` };
    return authenticator.resolve(dpop[1]!, ctx.ip, presented).then(hold);
  } else if (header) {
    const m = BEARER.exec(header);
    if (!m) throw invalidToken('invalid_request');
    const remembered = authenticator.resolveRemembered(m[1]!, ctx.ip);
    if (remembered === undefined) return authenticator.resolve(m[1]!, ctx.ip).then(hold);
    if (remembered instanceof Promise) return remembered.then(hold);
    hold(remembered);
  } else if (opts.allowSession && ctx.state.account && ctx.state.sessionId) {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(ctx.method)) {
      const from = ctx.get('Origin');
      if (from && from !== opts.origin) throw new AppError('FORBIDDEN', 'Cross-origin request refused');
      if (declaresBody(ctx.req) && !ctx.is('application/json')) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send a JSON body (Content-Type: application/json)');
      }
    }
    // The session's account was read on this request: its rights are current.
    ctx.state.principal = sessionPrincipal(ctx.state.account, sha256(ctx.state.sessionId));
  } else {
    throw invalidToken(null);
  }
}

/** A route's scope requirement: the principal must hold every one of `required`. */
export function assertScopes(state: AppState, required: readonly string[]): void {
  const principal = state.principal;
  if (!principal) throw invalidToken(null);
  if (!principal.can(...required)) {
    throw new AppError('FORBIDDEN', 'Insufficient permissions for this operation', undefined, {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${required.join(' ')}"`,
    });
  }
}

/** Only a dashboard session or an admin:all credential (e.g. to mint API keys). */
export function assertSessionOrAdmin(state: AppState): void {
  const p = state.principal;
  if (!p) throw invalidToken(null);
  if (p.kind !== 'session' && !p.isAdmin) {
    throw new AppError('FORBIDDEN', 'Insufficient permissions for this operation', undefined, {
      'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${ADMIN_SCOPE}"`,
    });
  }
}
