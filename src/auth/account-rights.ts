import type { CredentialEvents } from '../shared/credential-events.ts';
import { createTtlCache } from '../shared/ttl-cache.ts';
import type { AccountRights } from '../domain/principal.ts';

/**
 * What each account may hold now, read at every use of a credential (effective scopes are
 * computed per request, never copied at issue). Remembered briefly; an `account` credential event
 * (demotion, deletion, here or relayed from another instance) forgets it at once.
 */
export function createAccountRights(deps: {
  findAccount(id: string): Promise<{ isAdmin: boolean } | null>;
  events: CredentialEvents;
  ttlMs: number;
  now(): number;
}) {
  const cache = createTtlCache<AccountRights | null>({ ttlMs: deps.ttlMs, max: 10_000, now: deps.now });
  deps.events.subscribe((event) => {
    if (event.kind === 'account') cache.delete(event.id);
  });
  return {
    /** The account's rights, or null when it does not exist. */
    async of(accountId: string): Promise<AccountRights | null> {
      const hit = cache.get(accountId);
      if (hit !== undefined) return hit;
      const account = await deps.findAccount(accountId);
      const rights = account ? { isAdmin: account.isAdmin } : null;
      cache.set(accountId, rights);
      return rights;
    },
  };
}
export type AccountRightsLookup = ReturnType<typeof createAccountRights>;
