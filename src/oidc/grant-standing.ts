import type { TtlCache } from '../shared/ttl-cache.ts';
import type { PayloadsRepo } from './payloads.repo.ts';

/**
 * Whether a grant (by the SHA-256 of its id, as stored) still stands: not revoked, not expired.
 * Asked for every JWT access token, which is not stored and so cannot be deleted with its grant.
 * Answers are remembered in `cache`, which every credential event empties (see app.ts).
 */
export function createGrantStanding(deps: { payloads: PayloadsRepo; cache: TtlCache<boolean>; now(): number }) {
  return async (grantIdHash: string): Promise<boolean> => {
    const hit = deps.cache.get(grantIdHash);
    if (hit !== undefined) return hit;
    const row = await deps.payloads.findById('Grant', grantIdHash);
    const stands = row !== undefined && (row.expires_at === null || row.expires_at > deps.now());
    deps.cache.set(grantIdHash, stands);
    return stands;
  };
}
