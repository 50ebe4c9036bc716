import type { EndpointHealth, WebhookHealthRepo } from './health.repo.ts';

/** The window the success rate is measured over. */
export const SUCCESS_RATE_WINDOW_MS = 24 * 3_600_000;

const iso = (t: number | string | null) => (t === null ? null : new Date(Number(t)).toISOString());

/** One endpoint as the console shows it: whose, where, what, and how its deliveries are going. */
export interface EndpointWithHealth {
  id: string;
  owner: { id: string; email: string };
  url: string;
  events: string[];
  status: string;
  disabledReason: string | null;
  /** When the current run of failures began (null: the last attempt succeeded, or none failed). */
  failingSince: string | null;
  lastSuccessAt: string | null;
  lastFailure: { at: string; statusCode: number | null; error: string } | null;
  pending: number;
  /** Of the deliveries attempted in the last 24 h, the share that succeeded (null: none attempted). */
  successRate: number | null;
  attemptedLastDay: number;
}

const rateOf = (h: EndpointHealth) => (h.attempted === 0 ? null : h.succeeded / h.attempted);

/**
 * Every webhook endpoint and its delivery health, for operators (never a signing secret). Reading
 * is guarded where it is asked: the console lets admins and auditors in.
 */
export function createWebhookHealth(deps: { repo: WebhookHealthRepo; now(): number }) {
  return {
    async list(): Promise<EndpointWithHealth[]> {
      const since = deps.now() - SUCCESS_RATE_WINDOW_MS;
      const endpoints = await deps.repo.listEndpoints();
      const result: EndpointWithHealth[] = [];
      for (const e of endpoints) {
        const h = await deps.repo.healthOf(e.id, since);
        result.push({
          id: e.id,
          owner: { id: e.user_id, email: e.owner_email },
          url: e.url,
          events: JSON.parse(e.events) as string[],
          status: e.status,
          disabledReason: e.disabled_reason,
          failingSince: iso(e.failing_since),
          lastSuccessAt: iso(h.lastSuccessAt),
          lastFailure: h.lastFailure
            ? { at: iso(h.lastFailure.at)!, statusCode: h.lastFailure.statusCode, error: h.lastFailure.error }
            : null,
          pending: h.pending,
          successRate: rateOf(h),
          attemptedLastDay: h.attempted,
        });
      }
      return result;
    },
  };
}
export type WebhookHealth = ReturnType<typeof createWebhookHealth>;
