import type { Logger } from 'pino';
import type { SecretBox } from '../../shared/encryption.ts';
import { signedHeaders } from '../../shared/webhook-signature.ts';
import { excerptText, WEBHOOK_USER_AGENT, type Deliver } from './deliver.ts';
import { buildEvent } from './events.ts';
import type { DueDelivery, WebhooksRepo } from './webhooks.repo.ts';
import type { WebhookEndpointRow } from '../../db/schema.ts';
import type { AuditRecord } from '../../domain/audit.ts';
import { within } from '../../shared/within.ts';
import { startPolling } from '../../shared/poll.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Wait before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (then the delivery has failed). */
export const RETRY_SCHEDULE_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

/** Deliveries in flight to one endpoint at once: receivers are not flooded, order roughly kept. */
export const PER_ENDPOINT = 2;

export interface WorkerDeps {
  repo: WebhooksRepo;
  box: SecretBox;
  deliver: Deliver;
  now(): number;
  logger: Logger;
  /** An endpoint whose failures began this long ago without a success is disabled. */
  disableAfterMs: number;
  /** Deliveries in flight at once in this worker; one account gets at most a quarter of them. */
  concurrency: number;
  /**
   * How long a claim holds: the attempt's 10 s deadline plus room to record its outcome. A claim of
   * a process that died counts against its endpoint's in-flight limit until it runs out, so it is
   * kept short: after a crash, the endpoint's deliveries resume within this time.
   */
  lockMs?: number;
  /** On stop, how long deliveries in flight may take before they are cut and given back. */
  stopGraceMs?: number;
  /** Hears each attempt's outcome (metrics). */
  onAttempt?: (result: 'succeeded' | 'failed') => void;
  /** The audit record of an endpoint the worker disables for failing (the server acts). */
  disabledRecord?: (endpoint: WebhookEndpointRow) => AuditRecord;
}

/**
 * Delivers the outbox from a pool of `concurrency` slots, refilled the moment one frees (no batch
 * waits for its slowest member). Claims are atomic and fair (see claimFairly): a few endpoints
 * that never answer hold at most their account's share, and the other accounts' deliveries go
 * out meanwhile. Every attempt of one delivery carries the same `webhook-id` (the event id), so
 * receivers can drop repeats. `tick()` claims once and waits for what it claimed (tests call it
 * after moving their clock); `start()` also polls for newly due work on a timer.
 */
export function createWebhookWorker(deps: WorkerDeps) {
  const lockMs = deps.lockMs ?? 20 * SECOND;
  const stopGraceMs = deps.stopGraceMs ?? 3 * SECOND;
  const perAccount = Math.max(1, Math.floor(deps.concurrency / 4));
  const inFlight = new Set<Promise<void>>();
  const cut = new AbortController();
  let poller: { stop(): void } | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  /** Claims run one at a time; `queued` is the one waiting its turn, which any caller may join. */
  let lastClaim: Promise<unknown> = Promise.resolve();
  let queued: Promise<Array<Promise<void>>> | undefined;

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
    const outcome = await deps.deliver(d.url, d.body, headers, cut.signal);
    // What the log shows of the attempt: every header sent (signature values; a secret is never a header).
    const shown = {
      requestHeaders: { ...headers, 'user-agent': WEBHOOK_USER_AGENT },
      responseExcerpt: outcome.responseExcerpt ? excerptText(outcome.responseExcerpt) : null,
    };
    if (cut.signal.aborted && !outcome.ok) {
      // Cut by our own shutdown: not the receiver's failure, so no attempt is counted.
      await deps.repo.release(d.id);
      return;
    }
    const at = deps.now();
    deps.onAttempt?.(outcome.ok ? 'succeeded' : 'failed');
    if (outcome.ok) {
      await deps.repo.recordSuccess(d, at, outcome.statusCode!, outcome.latencyMs, shown);
      return;
    }
    const wait = RETRY_SCHEDULE_MS[d.attempts];
    await deps.repo.recordFailure(
      d,
      {
        at,
        statusCode: outcome.statusCode,
        latencyMs: outcome.latencyMs,
        error: outcome.error ?? 'failed',
        nextAttemptAt: wait === undefined ? null : at + wait,
        ...shown,
      },
      {
        failingSinceBefore: at - deps.disableAfterMs,
        event: (endpoint) =>
          buildEvent(
            'webhook_endpoint.disabled',
            endpoint.user_id,
            { id: endpoint.id, url: endpoint.url, failing_since: new Date(endpoint.failing_since!).toISOString() },
            at,
          ),
        ...(deps.disabledRecord ? { audit: deps.disabledRecord } : {}),
      },
    );
  }

  /** Starts a claimed delivery in a slot; when it settles the slot is refilled at once. */
  function run(d: DueDelivery): Promise<void> {
    const settled: Promise<void> = attempt(d)
      .catch((err: unknown) => deps.logger.error({ err, delivery: d.id }, 'webhook delivery could not be recorded'))
      .finally(() => {
        inFlight.delete(settled);
        void fill();
      });
    inFlight.add(settled);
    return settled;
  }

  async function claimIntoFreeSlots(): Promise<Array<Promise<void>>> {
    const free = deps.concurrency - inFlight.size;
    if (stopped || free <= 0) return [];
    const now = deps.now();
    const due = await deps.repo.claimDue({
      now,
      lockUntil: now + lockMs,
      limit: free,
      perEndpoint: PER_ENDPOINT,
      perAccount,
    });
    return due.map(run);
  }

  /**
   * Claims into the free slots; resolves with the deliveries started. A call while a claim runs
   * joins the one queued after it, so a burst of freed slots costs one more claim, not one each.
   */
  function fill(): Promise<Array<Promise<void>>> {
    if (!queued) {
      const claim = lastClaim.then(() => {
        queued = undefined;
        return claimIntoFreeSlots();
      });
      const logged = claim.catch((err: unknown) => {
        deps.logger.error({ err }, 'webhook worker could not claim deliveries');
        return [];
      });
      queued = logged;
      lastClaim = logged;
    }
    return queued;
  }

  return {
    /** Claims what is due into the free slots and waits for those deliveries; resolves with how many. */
    async tick(): Promise<number> {
      const started = await fill();
      await Promise.all(started);
      return started.length;
    },
    /** Runs until nothing is due or in flight: for tests that want everything due delivered now. */
    async drain(): Promise<void> {
      for (;;) {
        const started = await this.tick();
        if (started > 0) continue;
        if (inFlight.size === 0 && !queued) return;
        await Promise.all([...inFlight]);
      }
    },
    start(everyMs = 1000): void {
      poller = startPolling(fill, everyMs);
    },
    /**
     * Claims nothing more, gives deliveries in flight `stopGraceMs` to finish, then cuts the rest
     * and gives them back unattempted (the next instance to claim sends them, same webhook-id).
     */
    stop(): Promise<void> {
      stopping ??= (async () => {
        stopped = true;
        poller?.stop();
        await lastClaim;
        await within(Promise.all([...inFlight]), stopGraceMs);
        cut.abort();
        while (inFlight.size > 0) await Promise.all([...inFlight]);
      })();
      return stopping;
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
