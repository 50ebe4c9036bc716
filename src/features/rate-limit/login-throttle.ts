import { decide, windowsOf, type Policy, type Window } from './decide.ts';
import type { RateLimitStore, WindowHit } from './store.ts';

/**
 * Per account: 3 attempts a minute and 10 an hour. Each window is counted only once the shorter
 * one admitted the attempt, so hammering the form uses up the minute, not the hour. A completed
 * sign-in starts the counts afresh (the caller puts the account's sign-in count in the key).
 */
export const ACCOUNT_WINDOWS: Window[] = [
  { name: 'minute', limit: 3, windowMs: 60_000 },
  { name: 'hour', limit: 10, windowMs: 3_600_000 },
];

/** What the throttle says about one attempt: go ahead (0) or wait this many ms. */
export type Admission = { allowed: true } | { allowed: false; retryAfterMs: number };

/**
 * Brute-force protection for every password and code check (both login forms, the second factor,
 * the re-confirmation page, the current password in Settings). An attempt is counted *before* it
 * is checked, atomically in the shared rate-limit store, so that parallel guesses cannot all be
 * checked while the first ones are still being verified: at most the allowance is ever verified,
 * on one instance or many. Keys are the normalised email (whether or not it has an account, so a
 * refusal says nothing about existence) or the account id, and the address.
 */
export function createLoginThrottle(deps: { store: RateLimitStore; now(): number; perAddress: Policy }) {
  const { store, now } = deps;
  const addressWindows = windowsOf(deps.perAddress);

  const hit = async (key: string, w: Window, t: number): Promise<WindowHit> => store.hit(key, w.windowMs, t);

  return {
    /**
     * Counts one attempt for `accountKey` and `ip`, and says whether it may be checked. The address
     * is counted first (all its windows at once), then the account's windows from the shortest.
     */
    async admit(accountKey: string, ip: string): Promise<Admission> {
      const t = now();
      const byAddress = await Promise.all(addressWindows.map((w) => hit(`login:ip:${ip}`, w, t)));
      const address = decide(
        addressWindows.map((w, i) => ({ ...w, ...byAddress[i]! })),
        t,
      );
      if (!address.allowed) return { allowed: false, retryAfterMs: address.retryAfter * 1000 };
      for (const w of ACCOUNT_WINDOWS) {
        const counted = await hit(`login:acct:${accountKey}`, w, t);
        if (counted.count > w.limit) return { allowed: false, retryAfterMs: Math.max(1000, counted.resetAt - t) };
      }
      return { allowed: true };
    },
  };
}
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
