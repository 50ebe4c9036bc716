import type { Logger } from 'pino';
import type { SecretBox } from '../../shared/encryption.ts';
import { signedHeaders } from '../../shared/webhook-signature.ts';
import type { Deliver } from './deliver.ts';
import { buildEvent } from './events.ts';
import type { DueDelivery, WebhooksRepo } from './webhooks.repo.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Wait before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (then the delivery has failed). */
export const RETRY_SCHEDULE_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

export interface WorkerDeps {
  repo: WebhooksRepo;
  box: SecretBox;
  deliver: Deliver;
  now(): number;
  logger: Logger;
  /** An endpoint whose failures began this long ago without a success is disabled. */
  disableAfterMs: number;
  batchSize?: number;
  /** How long a claim holds (beyond the 10 s delivery timeout). */
  lockMs?: number;
  /** Hears each attempt's outcome (metrics). */
  onAttempt?: (result: 'succeeded' | 'failed') => void;
}

/**
 * Delivers the outbox: claims due deliveries (atomically, so two workers never send the same one
 * at once), signs and POSTs each, and records the outcome with its next retry. Every attempt of
 * one delivery carries the same `webhook-id` (the event id), so receivers can drop repeats.
 * `tick()` runs one pass (tests call it after moving their clock); `start()` runs it on a timer.
 */
export function createWebhookWorker(deps: WorkerDeps) {
  const batchSize = deps.batchSize ?? 10;
  const lockMs = deps.lockMs ?? 60 * SECOND;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;

  function secretsOf(d: DueDelivery, now: number): string[] {
    const secrets = [deps.box.open(d.secret_enc)];
    if (d.previous_secret_enc && d.previous_secret_until !== null && d.previous_secret_until > now) {
      secrets.push(deps.box.open(d.previous_secret_enc));
    }
    return secrets;
  }

  async function attempt(d: DueDelivery): Promise<void> {
    const started = deps.now();
    const headers = signedHeaders(d.event_id, Math.floor(started / 1000), d.body, secretsOf(d, started));
    const outcome = await deps.deliver(d.url, d.body, headers);
    const at = deps.now();
    deps.onAttempt?.(outcome.ok ? 'succeeded' : 'failed');
    if (outcome.ok) {
      await deps.repo.recordSuccess(d, at, outcome.statusCode!, outcome.latencyMs);
      return;
    }
    const wait = RETRY_SCHEDULE_MS[d.attempts];
    await deps.repo.recordFailure(
      d,
      { at, statusCode: outcome.statusCode, latencyMs: outcome.latencyMs, error: outcome.error ?? 'failed', nextAttemptAt: wait === undefined ? null : at + wait },
      {
        failingSinceBefore: at - deps.disableAfterMs,
        event: (endpoint) =>
          buildEvent('webhook_endpoint.disabled', endpoint.user_id, { id: endpoint.id, url: endpoint.url, failing_since: new Date(endpoint.failing_since!).toISOString() }, at),
      },
    );
  }

  async function pass(): Promise<number> {
    const now = deps.now();
    const due = await deps.repo.claimDue(now, now + lockMs, batchSize);
    await Promise.all(
      due.map((d) =>
        attempt(d).catch((err: unknown) => deps.logger.error({ err, delivery: d.id }, 'webhook delivery could not be recorded')),
      ),
    );
    return due.length;
  }

  return {
    /** One pass over due deliveries; resolves with how many were attempted. Passes never overlap. */
    async tick(): Promise<number> {
      while (running) await running;
      running = pass().finally(() => {
        running = undefined;
      });
      return running;
    },
    /** Runs until empty: for tests that want everything due delivered now. */
    async drain(): Promise<void> {
      while ((await this.tick()) > 0) {
        /* keep going */
      }
    },
    start(everyMs = 1000): void {
      const loop = async () => {
        try {
          await this.drain();
        } catch (err) {
          deps.logger.error({ err }, 'webhook worker pass failed');
        }
        if (stopped) return;
        timer = setTimeout(loop, everyMs);
        timer.unref();
      };
      timer = setTimeout(loop, everyMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (running) await running;
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
