/** Failures remembered per account and per address. */
interface FailureState {
  failures: number;
  windowStart: number;
  lastFailureAt: number;
}

export interface ThrottleRule {
  /** Failures allowed before back-off starts. */
  freeFailures: number;
  /** Back-off doubles from `baseDelayMs` with each further failure, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The count starts over this long after the first failure (the unlock). */
  windowMs: number;
}

/** Per account: 3 free failures, then 1 s, 2 s, 4 s ... up to 15 min; forgotten after 15 min. */
export const ACCOUNT_RULE: ThrottleRule = { freeFailures: 3, baseDelayMs: 1000, maxDelayMs: 15 * 60_000, windowMs: 15 * 60_000 };
/** Per address: more room (shared offices), same shape, over an hour. */
export const ADDRESS_RULE: ThrottleRule = { freeFailures: 20, baseDelayMs: 1000, maxDelayMs: 15 * 60_000, windowMs: 60 * 60_000 };

/**
 * How long a login must wait, from the failures so far: a pure function of the state and the
 * time, so tests drive it with a clock. 0 means try now.
 */
export function waitMs(state: FailureState | undefined, rule: ThrottleRule, now: number): number {
  if (!state || now - state.windowStart >= rule.windowMs) return 0;
  const excess = state.failures - rule.freeFailures;
  if (excess <= 0) return 0;
  const delay = Math.min(rule.baseDelayMs * 2 ** (excess - 1), rule.maxDelayMs);
  return Math.max(0, state.lastFailureAt + delay - now);
}

function recordFailure(state: FailureState | undefined, rule: ThrottleRule, now: number): FailureState {
  if (!state || now - state.windowStart >= rule.windowMs) return { failures: 1, windowStart: now, lastFailureAt: now };
  return { ...state, failures: state.failures + 1, lastFailureAt: now };
}

/**
 * Brute-force protection for the login forms (dashboard and OAuth), keyed by the normalised email
 * whether or not such an account exists, so a refusal says nothing about existence. Also used for
 * the second factor later. In memory: the scale-out work moves it to the shared store.
 */
export function createLoginThrottle(now: () => number) {
  const byAccount = new Map<string, FailureState>();
  const byAddress = new Map<string, FailureState>();

  function prune(map: Map<string, FailureState>, rule: ThrottleRule): void {
    if (map.size < 50_000) return;
    const t = now();
    for (const [k, s] of map) if (t - s.windowStart >= rule.windowMs) map.delete(k);
  }

  return {
    /** Milliseconds to wait before this attempt may be checked (0: go ahead). */
    retryAfterMs(email: string, ip: string): number {
      const t = now();
      return Math.max(waitMs(byAccount.get(email), ACCOUNT_RULE, t), waitMs(byAddress.get(ip), ADDRESS_RULE, t));
    },
    failed(email: string, ip: string): void {
      const t = now();
      prune(byAccount, ACCOUNT_RULE);
      prune(byAddress, ADDRESS_RULE);
      byAccount.set(email, recordFailure(byAccount.get(email), ACCOUNT_RULE, t));
      byAddress.set(ip, recordFailure(byAddress.get(ip), ADDRESS_RULE, t));
    },
    succeeded(email: string): void {
      byAccount.delete(email);
    },
  };
}
export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
