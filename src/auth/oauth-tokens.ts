import crypto from 'node:crypto';
import type Provider from 'oidc-provider';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { sha256 } from '../shared/secrets.ts';
import type { Credential } from '../domain/credential.ts';
import type { TtlCache } from '../shared/ttl-cache.ts';

export interface OAuthTokenDeps {
  provider: Provider;
  issuer: string;
  apiResource: string;
  /** The provider's private signing JWKs; only their public halves are used here. */
  signingKeys: JWK[];
  /** Owner of an application: client-credentials tokens act for the account that registered the app. */
  ownerOfClient(clientId: string): Promise<string | null>;
  /**
   * The grant a JWT access token was issued under, while it stands (see GRANT_CLAIM), with its
   * account; null once revoked or expired. Opaque tokens need no such check: revoking a grant
   * deletes them.
   */
  standingGrant(grantIdHash: string): Promise<{ accountId: string | null } | null>;
  /** Live tokens already checked, by SHA-256 of the token (emptied on any revocation in this process). */
  cache: TtlCache<Credential>;
}

/** The public half of a private signing JWK, with its kid and alg. */
export const toPublicJwk = (jwk: JWK): JWK => {
  const pub = crypto
    .createPublicKey(crypto.createPrivateKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' }))
    .export({ format: 'jwk' });
  return { ...pub, kid: jwk.kid, alg: jwk.alg, use: 'sig' } as JWK;
};

const splitScope = (scope: unknown): string[] => (typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);

/**
 * The DPoP key a JWT access token's `cnf` binds it to (its `jkt`), undefined for an unbound token,
 * null for a confirmation this server cannot check (anything but exactly `{jkt}`).
 */
function boundKeyOf(cnf: unknown): string | undefined | null {
  if (cnf === undefined) return undefined;
  if (!cnf || typeof cnf !== 'object' || Array.isArray(cnf)) return null;
  const { jkt, ...rest } = cnf as Record<string, unknown>;
  return typeof jkt === 'string' && jkt.length > 0 && Object.keys(rest).length === 0 ? jkt : null;
}

/**
 * The claim of a JWT access token that names its grant: the SHA-256 of the grant id (what the
 * database keys grants by), never the id itself. A JWT is not stored, so revoking its grant can
 * only reach it through this (see oidc/provider.ts, which adds it).
 */
export const GRANT_CLAIM = 'grant_hash';

/**
 * OAuth access tokens, checked locally (no HTTP round trip): opaque ones through oidc-provider's
 * own models on our adapter, RFC 9068 JWT ones by signature against the provider's keys. Only
 * tokens issued for the /v2 API (audience = API_RESOURCE) are accepted.
 */
export function createOAuthTokenVerifier(deps: OAuthTokenDeps) {
  const jwks = createLocalJWKSet({ keys: deps.signingKeys.map(toPublicJwk) });

  async function verifyJwt(token: string, audience: string): Promise<Credential | null> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: deps.issuer,
        audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256'],
      });
      // Bound to a key (cnf): the DPoP key's thumbprint rides with the credential, and only a proof
      // of that key may present it (authenticate.ts). Any other confirmation method is not ours.
      const dpopJkt = boundKeyOf(payload['cnf']);
      if (dpopJkt === null) return null;
      const clientId = String(payload['client_id'] ?? '');
      const isUser = typeof payload.sub === 'string' && payload.sub !== clientId;
      const grant = payload[GRANT_CLAIM];
      const standing = typeof grant === 'string' ? await deps.standingGrant(grant) : undefined;
      if (standing === null) return null;
      // A pairwise application's token says the `sub` that application knows; the account it acts
      // for is the grant's (as for an opaque token, whose stored account is the real one).
      const userId = isUser ? (standing?.accountId ?? String(payload.sub)) : await deps.ownerOfClient(clientId);
      return {
        method: 'oauth',
        subject: isUser ? userId! : String(payload.sub),
        scopes: splitScope(payload['scope']),
        expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
        id: typeof payload.jti === 'string' ? payload.jti : sha256(token),
        userId,
        clientId,
        ...(typeof grant === 'string' ? { grantIdHash: grant } : {}),
        ...(dpopJkt ? { dpopJkt } : {}),
      };
    } catch {
      return null;
    }
  }

  async function verifyOpaque(token: string, id: string, audience: string): Promise<Credential | null> {
    const { AccessToken, ClientCredentials } = deps.provider;
    const at = await AccessToken.find(token);
    const found = at ?? (await ClientCredentials.find(token));
    // Bound to a client certificate (mTLS): never issued here, and nothing here could check it.
    if (!found || found['x5t#S256']) return null;
    const dpopJkt = typeof found.jkt === 'string' ? found.jkt : undefined;
    const aud = (found as unknown as { aud?: string | string[] }).aud;
    if (!(Array.isArray(aud) ? aud.includes(audience) : aud === audience)) return null;
    const clientId = found.clientId!;
    const accountId = at ? at.accountId : undefined;
    return {
      method: 'oauth',
      subject: accountId ?? clientId,
      scopes: splitScope(found.scope),
      expiresAt: typeof found.exp === 'number' ? found.exp * 1000 : null,
      id,
      userId: accountId ?? (await deps.ownerOfClient(clientId)),
      clientId,
      ...(at?.grantId ? { grantIdHash: sha256(at.grantId) } : {}),
      ...(dpopJkt ? { dpopJkt } : {}),
    };
  }

  return {
    looksLikeJwt: (token: string) => token.split('.').length === 3,
    /**
     * The credential, or null for anything that is not a live access token for the API. A token
     * seen alive is trusted for the cache's time (its expiry is still checked on every use);
     * refusals are not remembered.
     */
    async verify(token: string): Promise<Credential | null> {
      return verifyFor(token, deps.apiResource);
    },
    /** `verify` of a token seen alive before (no wait), else undefined. */
    verifyRemembered(token: string): Credential | undefined {
      return deps.cache.get(sha256(token));
    },
    /**
     * The same for a token of another API (audience = that API's identifier): what its resource
     * server learns at introspection. A token is valid for exactly one audience.
     */
    verifyFor,
  };

  async function verifyFor(token: string, audience: string): Promise<Credential | null> {
    const id = sha256(token);
    const key = audience === deps.apiResource ? id : `${id} ${audience}`;
    const hit = deps.cache.get(key);
    if (hit) return hit;
    const credential =
      token.split('.').length === 3 ? await verifyJwt(token, audience) : await verifyOpaque(token, id, audience);
    if (credential) deps.cache.set(key, credential);
    return credential;
  }
}
export type OAuthTokenVerifier = ReturnType<typeof createOAuthTokenVerifier>;
