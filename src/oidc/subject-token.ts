import type Provider from 'oidc-provider';
import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { GRANT_CLAIM, toPublicJwk } from '../auth/oauth-tokens.ts';
import { sha256 } from '../shared/secrets.ts';
import type { PayloadsRepo } from './payloads.repo.ts';
import type { ActClaim, PersonGrant, SubjectToken } from './token-exchange.ts';

const audiencesOf = (aud: unknown): string[] =>
  Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : typeof aud === 'string' ? [aud] : [];
const actOf = (value: unknown): ActClaim | undefined =>
  value && typeof value === 'object' && typeof (value as ActClaim).sub === 'string' ? (value as ActClaim) : undefined;
const words = (value: unknown): string[] => (typeof value === 'string' ? value.split(' ').filter(Boolean) : []);

interface StoredGrant {
  accountId?: unknown;
  clientId?: unknown;
  resources?: Record<string, unknown>;
  rejected?: { resources?: Record<string, unknown> };
}

/**
 * Reads what token exchange needs of a presented token and of the grant it stands on. A subject
 * token is a person's access token issued by this server, for any API, live and not bound to a key
 * (a DPoP- or certificate-bound token proves nothing without its key's proof). Opaque tokens are
 * found through oidc-provider's own model; JWT access tokens are checked by signature, and name
 * their grant by its hash (the database keeps only hashes of ids, so that is all there is).
 */
export function createSubjectTokenReader(deps: {
  issuer: string;
  /** The provider's private signing JWKs; only their public halves are used here. */
  signingKeys: JWK[];
  payloads: PayloadsRepo;
  now(): number;
}) {
  const jwks = createLocalJWKSet({ keys: deps.signingKeys.map(toPublicJwk) });

  async function fromJwt(token: string): Promise<SubjectToken | null> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: deps.issuer,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256'],
        currentDate: new Date(deps.now()),
      });
      const hash = payload[GRANT_CLAIM];
      const clientId = payload['client_id'];
      if (payload['cnf'] !== undefined || typeof hash !== 'string' || typeof clientId !== 'string') return null;
      // A client-credentials token names the client itself: it acts for no person.
      if (payload.sub === clientId || typeof payload.exp !== 'number') return null;
      const act = actOf(payload['act']);
      return {
        clientId,
        grantIdHash: hash,
        audiences: audiencesOf(payload.aud),
        exp: payload.exp,
        ...(act ? { act } : {}),
      };
    } catch {
      return null;
    }
  }

  async function fromOpaque(provider: Provider, token: string): Promise<SubjectToken | null> {
    const at = await provider.AccessToken.find(token);
    if (!at || at.isSenderConstrained() || !at.accountId || !at.grantId || !at.clientId || !at.exp) return null;
    const act = actOf((at as unknown as { extra?: { act?: unknown } }).extra?.act);
    return {
      clientId: at.clientId,
      grantId: at.grantId,
      grantIdHash: sha256(at.grantId),
      audiences: audiencesOf((at as unknown as { aud?: unknown }).aud),
      exp: at.exp,
      ...(act ? { act } : {}),
    };
  }

  return {
    subjectToken: (provider: Provider, token: string): Promise<SubjectToken | null> =>
      token.split('.').length === 3 ? fromJwt(token) : fromOpaque(provider, token),

    /** The person's grant by the hash of its id, while it stands: whose it is, what it allows per API. */
    async grant(grantIdHash: string): Promise<PersonGrant | null> {
      const row = await deps.payloads.findById('Grant', grantIdHash);
      if (!row || (row.expires_at !== null && row.expires_at <= deps.now())) return null;
      const grant = JSON.parse(row.payload) as StoredGrant;
      if (typeof grant.accountId !== 'string' || typeof grant.clientId !== 'string') return null;
      return {
        accountId: grant.accountId,
        clientId: grant.clientId,
        // What the person refused is taken off, as oidc-provider's Grant#getResourceScope does.
        scopesFor: (resource) => {
          const refused = new Set(words(grant.rejected?.resources?.[resource]));
          return words(grant.resources?.[resource]).filter((s) => !refused.has(s));
        },
      };
    },
  };
}
