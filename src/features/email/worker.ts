import type { Logger } from 'pino';
import type { SecretBox } from '../../shared/encryption.ts';
import { within } from '../../shared/within.ts';
import type { EmailOutboxRepo, QueuedEmail } from './outbox.repo.ts';
import type { RenderedEmail } from './templates.ts';
import type { EmailTransport } from './transport.ts';
import { startPolling } from '../../shared/poll.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Wait before each retry: 1 min, 5 min, 15 min, 1 h, 4 h; after the sixth failed attempt (about
 * five hours on) the message is given up. A mail server's temporary refusal (4xx, greylisting)
 * usually clears within minutes; a link inside would have expired long before a later attempt.
 */
export const EMAIL_RETRY_SCHEDULE_MS = [1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 1 * HOUR, 4 * HOUR];

export interface EmailWorkerDeps {
  repo: EmailOutboxRepo;
  box: SecretBox;
  transport: EmailTransport;
  /** The From header (EMAIL_FROM). */
  from: string;
  /** The right-hand side of Message-IDs (the issuer's host). */
  domain: string;
  now(): number;
  logger: Logger;
  /** Messages in flight at once in this instance. */
  concurrency?: number;
  /** How long a claim holds: longer than an SMTP conversation may take (see transport.ts). */
  lockMs?: number;
  /** On stop, how long messages in flight may take before the worker stops waiting. */
  stopGraceMs?: number;
}

/**
 * Sends the email outbox: claims due messages (one sender per message across instances), sends
 * each, and records the outcome: sent, retried later (EMAIL_RETRY_SCHEDULE_MS), or given up (a
 * permanent 5xx refusal at once, anything else once the schedule runs out). `tick()` claims once
 * and waits for what it claimed (tests call it after moving their clock); `start()` polls.
 */
export function createEmailWorker(deps: EmailWorkerDeps) {
  const concurrency = deps.concurrency ?? 4;
  const lockMs = deps.lockMs ?? 2 * MINUTE;
  const stopGraceMs = deps.stopGraceMs ?? 5 * SECOND;
  let poller: { stop(): void } | undefined;
  let stopped = false;
  let stopping: Promise<void> | undefined;
  /** Ticks run one after another, so a poll never overlaps a test's own tick. */
  let running: Promise<number> = Promise.resolve(0);

  async function attempt(queued: QueuedEmail): Promise<void> {
    let message: RenderedEmail;
    try {
      message = JSON.parse(deps.box.open(queued.message_enc)) as RenderedEmail;
    } catch {
      // Sealed under another SECRETS_KEY: no retry can open it.
      await deps.repo.recordFailure(queued.id, 'the message cannot be opened with this SECRETS_KEY', null);
      deps.logger.error({ email: queued.id }, 'email given up: sealed with another SECRETS_KEY');
      return;
    }
    const outcome = await deps.transport.send({ ...message, from: deps.from, to: queued.recipient, id: queued.id });
    const at = deps.now();
    if (outcome.ok) {
      await deps.repo.recordSent(queued.id, at);
      return;
    }
    const wait = outcome.permanent ? undefined : EMAIL_RETRY_SCHEDULE_MS[queued.attempts];
    const retryAt = wait === undefined ? null : at + wait;
    await deps.repo.recordFailure(queued.id, outcome.error, retryAt);
    const log = { email: queued.id, template: queued.template, attempt: queued.attempts + 1, error: outcome.error };
    if (retryAt === null) deps.logger.error(log, 'email given up');
    else deps.logger.warn({ ...log, retry_at: new Date(retryAt).toISOString() }, 'email not sent; will retry');
  }

  async function claimAndSend(): Promise<number> {
    if (stopped) return 0;
    const now = deps.now();
    const claimed = await deps.repo.claimDue(now, now + lockMs, concurrency);
    await Promise.all(
      claimed.map((queued) =>
        attempt(queued).catch((err: unknown) => {
          deps.logger.error({ err, email: queued.id }, 'email could not be sent or recorded');
        }),
      ),
    );
    return claimed.length;
  }

  function tick(): Promise<number> {
    running = running.then(claimAndSend, claimAndSend).catch((err: unknown) => {
      deps.logger.error({ err }, 'email worker could not claim messages');
      return 0;
    });
    return running;
  }

  return {
    /** Claims what is due, sends it and records the outcomes; resolves with how many were claimed. */
    tick,
    /**
     * Sends one queued message now, in this process, if it is due and no other sender holds it
     * (`latchkey mail test`); resolves with whether it was attempted here.
     */
    async sendNow(id: string): Promise<boolean> {
      const now = deps.now();
      const queued = await deps.repo.claimOne(id, now, now + lockMs);
      if (!queued) return false;
      await attempt(queued);
      return true;
    },
    /** Runs until nothing is due: for tests that want everything due sent now. */
    async drain(): Promise<void> {
      while ((await tick()) > 0);
    },
    start(everyMs = 1000): void {
      poller = startPolling(tick, everyMs);
    },
    /**
     * Claims nothing more and gives messages in flight `stopGraceMs` to finish. One still in
     * flight then keeps its claim, which runs out by itself: another instance sends it later.
     */
    stop(): Promise<void> {
      stopping ??= (async () => {
        stopped = true;
        poller?.stop();
        await within(running, stopGraceMs);
        deps.transport.close();
      })();
      return stopping;
    },
  };
}
export type EmailWorker = ReturnType<typeof createEmailWorker>;
