/** How a /v2 request authenticated. `session` is the dashboard's own cookie. */
export type CredentialMethod = 'api_key' | 'oauth' | 'jwt' | 'session';

/**
 * A presented credential as its verifier checked it: what was granted at issue. The authenticate
 * step turns it into the request's Principal (effective scopes, current rights); nothing else
 * decides on it.
 */
export interface Credential {
  method: CredentialMethod;
  /** Who the credential speaks for: a user id, a client id (client credentials) or a JWT `sub`. */
  subject: string;
  /** Scopes as granted; `admin:all` implies every other (see hasScopes). */
  scopes: string[];
  /** Epoch ms, or null for a credential that does not expire. */
  expiresAt: number | null;
  /** The credential's own id: API key id, token id hash, JWT id, session id hash. */
  id: string;
  /** The Latchkey account the credential names (for a JWT: claims), when it names one. */
  userId: string | null;
  /** OAuth client the token was issued to. */
  clientId?: string;
  /** A user's OAuth token: the SHA-256 of the grant (the person's authorization) it was issued under. */
  grantIdHash?: string;
  /**
   * An OAuth token bound to a DPoP key (RFC 9449 `cnf.jkt`): that key's JWK thumbprint. Only a
   * request with a proof signed by that key may present it.
   */
  dpopJkt?: string;
  /** An API key's own rate limit, when it carries one (else the method's default applies). */
  rateLimit?: { hourly: number; burst: number } | null;
}
