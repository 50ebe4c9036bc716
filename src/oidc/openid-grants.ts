import type { PayloadsRepo } from './payloads.repo.ts';

/** What a person allowed one application to learn about them through OpenID Connect. */
export interface OpenIdGrant {
  accountId: string;
  clientId: string;
  /** OpenID scopes granted (openid, profile, email...), less any the person refused. */
  scopes: string[];
  /** Single claims granted through the `claims` request parameter, less any refused. */
  claims: string[];
}

interface StoredGrant {
  accountId?: unknown;
  clientId?: unknown;
  openid?: { scope?: unknown; claims?: unknown };
  rejected?: { openid?: { scope?: unknown; claims?: unknown } };
}

const words = (value: unknown): string[] => (typeof value === 'string' ? value.split(' ').filter(Boolean) : []);
const names = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/**
 * Reads the OpenID part of a grant (oidc-provider's Grant, as stored) by the SHA-256 of its id,
 * which is all a JWT access token names. A revoked or expired grant is undefined. Refusals are
 * applied as oidc-provider applies them (Grant#getOIDCScope, #getOIDCClaims): `openid` itself is
 * never taken back.
 */
export function createOpenIdGrants(deps: { payloads: PayloadsRepo; now(): number }) {
  return async (grantIdHash: string): Promise<OpenIdGrant | undefined> => {
    const row = await deps.payloads.findById('Grant', grantIdHash);
    if (!row || (row.expires_at !== null && row.expires_at <= deps.now())) return undefined;
    const grant = JSON.parse(row.payload) as StoredGrant;
    if (typeof grant.accountId !== 'string' || typeof grant.clientId !== 'string') return undefined;
    const refusedScopes = new Set(words(grant.rejected?.openid?.scope).filter((s) => s !== 'openid'));
    const refusedClaims = new Set(names(grant.rejected?.openid?.claims));
    return {
      accountId: grant.accountId,
      clientId: grant.clientId,
      scopes: words(grant.openid?.scope).filter((s) => !refusedScopes.has(s)),
      claims: names(grant.openid?.claims).filter((c) => !refusedClaims.has(c)),
    };
  };
}
export type OpenIdGrants = ReturnType<typeof createOpenIdGrants>;
