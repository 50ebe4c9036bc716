/** One limit: at most `limit` requests per `windowMs`. */
export interface Window {
  name: string;
  limit: number;
  windowMs: number;
}

/** A policy is the windows that all apply to one bucket (here: an hourly quota and a burst). */
export interface Policy {
  hourly: number;
  burst: number;
}

export const windowsOf = (p: Policy): Window[] => [
  { name: 'hourly', limit: p.hourly, windowMs: 3_600_000 },
  { name: 'burst', limit: p.burst, windowMs: 1_000 },
];

/** What a store reports for one window after counting this request. */
export interface WindowCount extends Window {
  count: number;
  /** Epoch ms when this window's count starts again from zero. */
  resetAt: number;
}

export interface Decision {
  allowed: boolean;
  /** Name of the window the headers describe (`hourly` or `burst`). */
  window: string;
  /** The window the headers describe: the one refusing, else the one with the least room (relative). */
  limit: number;
  remaining: number;
  /** Epoch seconds when `remaining` is restored. */
  reset: number;
  /** Seconds to wait, when refused (at least 1). */
  retryAfter: number;
  windows: WindowCount[];
  /** The IETF RateLimit-Policy value: the windows' names, limits and lengths (constant per policy). */
  policy: string;
}

/** The IETF RateLimit-Policy value of a policy's windows (draft-ietf-httpapi-ratelimit-headers). */
export const policyFieldOf = (windows: readonly Window[]): string =>
  windows.map((w) => `"${w.name}";q=${w.limit};w=${Math.round(w.windowMs / 1000)}`).join(', ');

/**
 * The rate-limit decision, a pure function of the counted windows and the time: allowed when every
 * window is within its limit. The headers describe the refusing window, or else the hourly quota
 * (what clients budget against), so X-RateLimit-* read like GitHub's.
 */
export function decide(windows: WindowCount[], now: number, policy = policyFieldOf(windows)): Decision {
  const over = windows.filter((w) => w.count > w.limit);
  const shown = over.length
    ? over.reduce((a, b) => (b.resetAt > a.resetAt ? b : a))
    : windows.reduce((a, b) => (b.windowMs > a.windowMs ? b : a));
  return {
    allowed: over.length === 0,
    window: shown.name,
    limit: shown.limit,
    remaining: Math.max(0, shown.limit - shown.count),
    reset: Math.ceil(shown.resetAt / 1000),
    retryAfter: Math.max(1, Math.ceil((shown.resetAt - now) / 1000)),
    windows,
    policy,
  };
}

/** IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers), one item per window. */
export function ietfHeaders(d: Decision, now: number): { policy: string; state: string } {
  return { policy: d.policy, state: rateLimitField(d.windows, now) };
}

/** The IETF RateLimit value: each window's room and seconds to its reset, in one string (every API answer). */
function rateLimitField(windows: readonly WindowCount[], now: number): string {
  let field = '';
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i]!;
    const remaining = w.limit > w.count ? w.limit - w.count : 0;
    const seconds = w.resetAt > now ? Math.ceil((w.resetAt - now) / 1000) : 0;
    field += `${i === 0 ? '' : ', '}"${w.name}";r=${remaining};t=${seconds}`;
  }
  return field;
}
