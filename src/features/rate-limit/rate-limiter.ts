import type { Middleware } from 'koa';
import type { Principal } from '../../domain/principal.ts';
import { AppError } from '../../http/errors.ts';
import { setAnswerHeader } from '../../http/answer-head.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import {
  decide,
  ietfHeaders,
  policyFieldOf,
  windowsOf,
  type Decision,
  type Policy,
  type Window,
  type WindowCount,
} from './decide.ts';
import type { RateLimitStore, WindowHit } from './store.ts';

export interface Policies {
  apiKey: Policy;
  oauth: Policy;
  jwt: Policy;
  unauthenticated: Policy;
}

/** A policy's windows and its RateLimit-Policy value, made once per policy. */
interface PolicyShape {
  windows: Window[];
  field: string;
}

/** A bucket's scope and type without its id (`v2:key:abc` -> `v2:key`): a bounded metrics label. */
export const bucketKind = (bucket: string): string => bucket.split(':', 2).join(':');

/**
 * Counts a request in every window of the policy and decides; `onRefused` hears of each refusal.
 * `count` answers at once when the store does (memory): no promise on every API request.
 */
export function createRateLimiter(deps: { store: RateLimitStore; now(): number; onRefused?: (kind: string) => void }) {
  // A policy's windows and its RateLimit-Policy value are the same on every request: made once per
  // policy object (config, a key's own).
  const shapes = new WeakMap<Policy, PolicyShape>();
  const shapeOf = (policy: Policy) => {
    let shape = shapes.get(policy);
    if (!shape) {
      const windows = windowsOf(policy);
      shape = { windows, field: policyFieldOf(windows) };
      shapes.set(policy, shape);
    }
    return shape;
  };
  const decideCounted = (bucket: string, shape: PolicyShape, hits: WindowHit[], now: number): Decision => {
    const counted: WindowCount[] = shape.windows.map((w, i) => {
      const hit = hits[i]!;
      return { name: w.name, limit: w.limit, windowMs: w.windowMs, count: hit.count, resetAt: hit.resetAt };
    });
    const decision = decide(counted, now, shape.field);
    if (!decision.allowed) deps.onRefused?.(bucketKind(bucket));
    return decision;
  };
  const count = (bucket: string, policy: Policy): Decision | Promise<Decision> => {
    const now = deps.now();
    const shape = shapeOf(policy);
    const answers = shape.windows.map((w) => deps.store.hit(bucket, w.windowMs, now, w.limit));
    // A shared store's windows are counted at once (one round trip's wait); memory answers at once.
    if (!answers.some((a) => a instanceof Promise)) return decideCounted(bucket, shape, answers as WindowHit[], now);
    return Promise.all(answers).then((hits) => decideCounted(bucket, shape, hits, now));
  };
  return {
    count,
    async check(bucket: string, policy: Policy): Promise<Decision> {
      return count(bucket, policy);
    },
    now: deps.now,
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** X-RateLimit-* (as GitHub's) and the IETF RateLimit-Policy / RateLimit fields. */
export function setRateLimitHeaders(ctx: AppContext, d: Decision, now: number): void {
  const ietf = ietfHeaders(d, now);
  // Into the answer's gathered head, or straight onto the response (as ctx.set does, less its checks).
  if (ctx.headerSent) return;
  setAnswerHeader(ctx, 'X-RateLimit-Limit', String(d.limit));
  setAnswerHeader(ctx, 'X-RateLimit-Remaining', String(d.remaining));
  setAnswerHeader(ctx, 'X-RateLimit-Reset', String(d.reset));
  setAnswerHeader(ctx, 'RateLimit-Policy', ietf.policy);
  setAnswerHeader(ctx, 'RateLimit', ietf.state);
}

export function rateLimited(d: Decision, who: string): AppError {
  return new AppError(
    'RATE_LIMITED',
    `Rate limit exceeded for ${who}: ${d.limit} requests per ${d.window === 'burst' ? 'second' : 'hour'}. ` +
      `Retry after ${d.retryAfter} s.`,
    undefined,
    { 'Retry-After': String(d.retryAfter) },
  );
}

/** The bucket and policy for a caller, as the documented table says (per key, user, token, address). */
export function bucketFor(c: Principal | undefined, ip: string, p: Policies, keyOverride?: Policy | null) {
  switch (c?.method) {
    case 'api_key':
      return { bucket: `key:${c.credentialId}`, policy: keyOverride ?? p.apiKey, who: 'this API key' };
    case 'oauth':
    case 'session':
      return { bucket: `user:${c.accountId ?? c.subject}`, policy: p.oauth, who: 'this user' };
    case 'jwt':
      return { bucket: `jwt:${c.credentialId}`, policy: p.jwt, who: 'this token' };
    default:
      return { bucket: `ip:${ip}`, policy: p.unauthenticated, who: 'your address' };
  }
}

/** Every /v2 request (authenticated or not) is counted; headers on every answer, 429 when over. */
export function rateLimitRequests(limiter: RateLimiter, policies: Policies, scope = 'v2'): Middleware<AppState> {
  return async (ctx, next) => {
    await limitRequest(ctx, limiter, policies, scope);
    await next();
  };
}

/**
 * The step of `rateLimitRequests` without a `next`, for a router's single step in front of its
 * routes. A promise only when the store answers with one (memory does not).
 */
export function limitRequest(
  ctx: AppContext,
  limiter: RateLimiter,
  policies: Policies,
  scope: string,
): void | Promise<void> {
  const c = ctx.state.principal;
  const { bucket, policy, who } = bucketFor(c, ctx.ip, policies, c?.rateLimit ?? null);
  const answer = (decision: Decision) => {
    setRateLimitHeaders(ctx, decision, limiter.now());
    if (!decision.allowed) throw rateLimited(decision, who);
  };
  const decision = limiter.count(`${scope}:${bucket}`, policy);
  return decision instanceof Promise ? decision.then(answer) : answer(decision);
}
