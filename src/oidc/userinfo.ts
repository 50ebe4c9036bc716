import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { Account } from '../domain/account.ts';
import { BEARER, DPOP, type Authenticator, type PresentedProof } from '../auth/authenticate.ts';
import { DPOP_SIGNING_ALGS } from '../auth/dpop-proof.ts';
import type { AppContext, AppState } from '../http/context.ts';
import { releasedClaims } from './claims.ts';
import type { OpenIdGrants } from './openid-grants.ts';
import { jsonToForm, param } from './protocol-body.ts';

export interface UserinfoDeps {
  authenticator: Authenticator;
  /** The OpenID part of the grant a token was issued under, by the SHA-256 of its id. */
  openIdGrant: OpenIdGrants;
  findAccount(id: string): Promise<Account | null>;
  /** The `sub` the application knows the account by (its pairwise identifier, for a pairwise application). */
  subjectFor(clientId: string, accountId: string): Promise<string>;
  /** Origins an application's pages run on (its redirect URIs'): the only ones CORS lets read the answer. */
  clientOrigins(clientId: string): Promise<string[]>;
  issuer: string;
}

/** An RFC 6750 refusal: the status, the `WWW-Authenticate` challenge and the same words in the body. */
class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
    readonly error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | null,
    readonly description: string,
    readonly scope?: string,
    /** The scheme the token came with: a DPoP-bound token's refusal names DPoP (RFC 9449 §7.1). */
    readonly scheme: 'Bearer' | 'DPoP' = 'Bearer',
  ) {
    super(description);
  }
}

/** A presented access token, and the DPoP proof it came with (the DPoP scheme). */
interface PresentedToken {
  token: string;
  proof: PresentedProof | null;
}

const quoted = (value: string) => `"${value.replace(/[\\"]/g, '\\$&')}"`;

/**
 * The OpenID Connect UserInfo endpoint (Core §5.3). oidc-provider's own refuses any token with an
 * audience, and every Latchkey access token is bound to the API (API_RESOURCE); so this one checks
 * a token exactly as /v2 does (the same token works at both, as with Auth0), then answers the
 * claims the person granted the application. Each request is its steps, top to bottom:
 *
 *   cors → read the token (header, or POST form body; never both, never the query) → verify it
 *   (a person's live access token, issued with `openid`) → load its grant → check the Origin →
 *   answer the claims.
 */
export function userinfoEndpoint(deps: UserinfoDeps): Middleware<AppState> {
  const readForm = jsonToForm();

  const cors: Middleware<AppState> = async (ctx, next) => {
    ctx.vary('Origin');
    const origin = ctx.get('Origin');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      if (!origin || !ctx.get('Access-Control-Request-Method')) return;
      // Any page may ask; whether it may read the answer depends on the token's application.
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Allow-Methods', 'GET,POST');
      ctx.set('Access-Control-Max-Age', '3600');
      const headers = ctx.get('Access-Control-Request-Headers');
      if (headers) ctx.set('Access-Control-Allow-Headers', headers);
      return;
    }
    if (origin) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Access-Control-Expose-Headers', 'WWW-Authenticate');
    }
    await next();
  };

  const answerRefusals: Middleware<AppState> = async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Pragma', 'no-cache');
    try {
      await next();
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      const params = [
        `realm=${quoted(deps.issuer)}`,
        ...(err.error ? [`error=${quoted(err.error)}`, `error_description=${quoted(err.description)}`] : []),
        ...(err.scope ? [`scope=${quoted(err.scope)}`] : []),
      ];
      if (err.scheme === 'DPoP') params.push(`algs=${quoted(DPOP_SIGNING_ALGS.join(' '))}`);
      ctx.status = err.status;
      ctx.set('WWW-Authenticate', `${err.scheme} ${params.join(', ')}`);
      ctx.body = { error: err.error ?? 'invalid_token', error_description: err.description };
    }
  };

  const onlyGetOrPost: Middleware<AppState> = async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'POST') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, POST, OPTIONS');
      ctx.body = { error: 'invalid_request', error_description: `${ctx.method} is not allowed here` };
      return;
    }
    await next();
  };

  const readBody: Middleware<AppState> = (ctx, next) => (ctx.method === 'POST' ? readForm(ctx, next) : next());

  const answer: Middleware<AppState> = async (ctx) => {
    const { principal, credential } = await verified(presentedToken(ctx, deps.issuer));
    // A client_credentials token speaks for an application, not a person: there is no one to describe.
    const accountId = principal.accountId;
    if (principal.kind !== 'oauth' || !credential.grantIdHash || !accountId || !principal.clientId) {
      throw new Refusal(401, 'invalid_token', 'the access token does not belong to a person');
    }
    // The token carries the OpenID scopes of its sign-in (provider.ts); the grant, the single
    // claims asked for with the `claims` parameter, and what the person has not taken back since.
    if (!principal.granted.includes('openid')) {
      throw new Refusal(403, 'insufficient_scope', 'the access token was not issued for OpenID Connect', 'openid');
    }
    const grant = await deps.openIdGrant(credential.grantIdHash);
    if (!grant || grant.accountId !== accountId || grant.clientId !== principal.clientId) {
      throw new Refusal(401, 'invalid_token', 'the access token is no longer valid');
    }
    await checkOrigin(ctx, principal.clientId);
    const account = await deps.findAccount(accountId);
    if (!account) throw new Refusal(401, 'invalid_token', 'the access token is no longer valid');
    const scopes = principal.granted.filter((s) => grant.scopes.includes(s));
    ctx.body = {
      ...releasedClaims(account, { scopes, claims: grant.claims }),
      sub: await deps.subjectFor(principal.clientId, accountId),
    };
  };

  async function verified({ token, proof }: PresentedToken) {
    try {
      return await deps.authenticator.resolveAccessToken(token, proof);
    } catch (err) {
      // Expired, revoked, unknown, or its application or account gone: RFC 6750's invalid_token
      // (or the proof refused: RFC 9449's invalid_dpop_proof).
      const refusal = err as { status?: unknown; headers?: Record<string, string> };
      if (refusal.status === 401) {
        const badProof = refusal.headers?.['WWW-Authenticate']?.startsWith('DPoP error="invalid_dpop_proof"');
        if (badProof) throw new Refusal(401, 'invalid_dpop_proof', 'the DPoP proof is not valid', undefined, 'DPoP');
        const scheme = proof ? 'DPoP' : 'Bearer';
        throw new Refusal(401, 'invalid_token', 'the access token is not valid', undefined, scheme);
      }
      throw err;
    }
  }

  /** A page on another origin reads the answer only when it is one of the application's own. */
  async function checkOrigin(ctx: AppContext, clientId: string): Promise<void> {
    const origin = ctx.get('Origin');
    if (!origin) return;
    if (origin !== 'null' && (await deps.clientOrigins(clientId)).includes(origin)) return;
    ctx.remove('Access-Control-Allow-Origin');
    ctx.remove('Access-Control-Expose-Headers');
    throw new Refusal(400, 'invalid_request', `origin ${origin} is not allowed for this application`);
  }

  return compose([cors, answerRefusals, onlyGetOrPost, readBody, answer]) as Middleware<AppState>;
}

/**
 * The access token of the request (RFC 6750 §2.1 header or §2.2 form body, or RFC 9449's DPoP
 * header with its proof, whose URL is built from the issuer), exactly one way.
 */
function presentedToken(ctx: AppContext, issuer: string): PresentedToken {
  const header = ctx.get('Authorization');
  const inBody = param(ctx.state.oauthParams, 'access_token');
  if (ctx.query['access_token'] !== undefined) {
    throw new Refusal(400, 'invalid_request', 'access tokens must not be sent in the query string');
  }
  if (header && inBody !== undefined) {
    throw new Refusal(400, 'invalid_request', 'send the access token one way only, not in both header and body');
  }
  const dpop = DPOP.exec(header);
  if (dpop) {
    const proof = ctx.get('DPoP');
    if (!proof || proof.includes(',')) {
      throw new Refusal(401, 'invalid_dpop_proof', 'send one DPoP proof with a DPoP token', undefined, 'DPoP');
    }
    return { token: dpop[1]!, proof: { proof, method: ctx.method, url: `${new URL(issuer).origin}${ctx.path}` } };
  }
  if (header) {
    const m = BEARER.exec(header);
    if (!m) throw new Refusal(400, 'invalid_request', 'the Authorization header must be "Bearer <access token>"');
    return { token: m[1]!, proof: null };
  }
  if (inBody) return { token: inBody, proof: null };
  throw new Refusal(401, null, 'no access token provided');
}
