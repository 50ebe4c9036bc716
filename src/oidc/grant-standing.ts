import type { TtlCache } from '../shared/ttl-cache.ts';
import type { PayloadsRepo } from './payloads.repo.ts';

/** A grant that stands: not revoked, not expired; and the account that gave it (null: none). */
export interface StandingGrant {
  accountId: string | null;
}

/**
 * Whether a grant (by the SHA-256 of its id, as stored) still stands, and whose it is: null when it
 * was revoked or has expired. Asked for every JWT access token, which is not stored and so cannot be
 * deleted with its grant, and whose `sub` is not the account for a pairwise application.
 * Answers are remembered in `cache`, which every credential event empties (see app.ts).
 */
export function createGrantStanding(deps: {
  payloads: PayloadsRepo;
  cache: TtlCache<StandingGrant | null>;
  now(): number;
}) {
  return async (grantIdHash: string): Promise<StandingGrant | null> => {
    const hit = deps.cache.get(grantIdHash);
    if (hit !== undefined) return hit;
    const row = await deps.payloads.findById('Grant', grantIdHash);
    const stands = row !== undefined && (row.expires_at === null || row.expires_at > deps.now());
    const accountId = stands ? (JSON.parse(row.payload) as { accountId?: unknown }).accountId : undefined;
    const answer = stands ? { accountId: typeof accountId === 'string' ? accountId : null } : null;
    deps.cache.set(grantIdHash, answer);
    return answer;
  };
}
