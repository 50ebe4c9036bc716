import crypto from 'node:crypto';

/**
 * A pairwise subject identifier (OpenID Connect Core §8.1): HMAC-SHA-256, under a server secret,
 * of the sector (the host an application's redirect URIs share) and the account id. The same person
 * gets one `sub` per sector, stable across sign-ins and restarts; without the key, nobody can link
 * two sectors' identifiers or recover the account id. A separator no host or id contains keeps
 * (sector, account) pairs from running into each other.
 */
export function pairwiseSubject(key: string, sector: string, accountId: string): string {
  return crypto.createHmac('sha256', key).update(`${sector}\n${accountId}`).digest('base64url');
}

/** The `sub` an application knows an account by: the account id, or its pairwise identifier. */
export function subjectFor(
  client: { subjectType?: string; sectorIdentifier?: unknown } | undefined,
  key: string,
  accountId: string,
): string {
  return client?.subjectType === 'pairwise'
    ? pairwiseSubject(key, String(client.sectorIdentifier), accountId)
    : accountId;
}
