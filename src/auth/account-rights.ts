import type { CredentialEvents } from '../shared/credential-events.ts';
import { createTtlCache } from '../shared/ttl-cache.ts';
import type { AccountRights } from '../domain/principal.ts';

/** What is remembered of an account: its rights (null: gone or disabled), and whether it is disabled. */
export interface Standing {
  rights: AccountRights | null;
  disabled: boolean;
}

/**
 * What each account may hold now, read at every use of a credential (effective scopes are
 * computed per request, never copied at issue). Remembered briefly; an `account` credential event
 * (demotion, deletion, disabling, here or relayed from another instance) forgets it at once.
 * A disabled account holds nothing, like a deleted one.
 */
export function createAccountRights(deps: {
  findAccount(id: string): Promise<{ isAdmin: boolean; disabled?: boolean } | null>;
  events: CredentialEvents;
  ttlMs: number;
  now(): number;
}) {
  const cache = createTtlCache<Standing>({ ttlMs: deps.ttlMs, max: 10_000, now: deps.now });
  deps.events.subscribe((event) => {
    if (event.kind === 'account') cache.delete(event.id);
  });
  async function standing(accountId: string): Promise<Standing> {
    const hit = cache.get(accountId);
    if (hit !== undefined) return hit;
    const account = await deps.findAccount(accountId);
    const disabled = account?.disabled === true;
    const found = { rights: account && !disabled ? { isAdmin: account.isAdmin } : null, disabled };
    cache.set(accountId, found);
    return found;
  }
  return {
    /** The account's rights and whether it is disabled, read together (one lookup per request). */
    standing,
    /** `standing` when it is remembered (no wait), else undefined. */
    rememberedStanding(accountId: string): Standing | undefined {
      return cache.get(accountId);
    },
    /** The account's rights, or null when it does not exist or is disabled. */
    async of(accountId: string): Promise<AccountRights | null> {
      return (await standing(accountId)).rights;
    },
    /** Whether an admin disabled the account: every credential naming it is refused. */
    async isDisabled(accountId: string): Promise<boolean> {
      return (await standing(accountId)).disabled;
    },
  };
}
export type AccountRightsLookup = ReturnType<typeof createAccountRights>;
