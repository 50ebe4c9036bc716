import type { Logger } from 'pino';
import { LATE, within } from '../../shared/within.ts';
import type { ApiKeyActivityRow } from '../../db/schema.ts';
import { randomBase62 } from '../../shared/secrets.ts';

export type UsageEntry = Omit<ApiKeyActivityRow, 'id'>;

export interface UsageRecorderOptions {
  /** Writes one batch in one transaction (entries of keys that no longer exist are left out). */
  write(rows: ApiKeyActivityRow[]): Promise<unknown>;
  logger: Pick<Logger, 'warn'>;
  /** At most this many entries wait in memory; past it new entries are dropped (and counted). */
  maxBacklog: number;
  everyMs?: number;
  batchSize?: number;
  /** On stop, keep trying to write this long, then drop what is left (and say how much). */
  stopWithinMs?: number;
}

/** After a failed write, wait this long before the next (doubling up to the maximum). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 10_000;
/** On stop, how long past the deadline the last write may take to settle (PostgreSQL's lock_timeout is 2 s). */
const SETTLE_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Collects API key activity in memory and writes it in one transaction per batch, so the hot
 * path never waits on a disk write (one insert per request would cost more than the request).
 * Written every second, when a batch is full, before reads, and on stop; one write at a time.
 *
 * A failed write keeps its entries and is retried with backoff (the database may be restarting),
 * so the backlog is bounded: past `maxBacklog` waiting entries new ones are dropped and the count
 * logged. Stopping is bounded too: after `stopWithinMs` what is still unwritten is dropped and
 * logged, so an orchestrator's SIGKILL never finds the process still waiting. A crash loses at
 * most the waiting entries, never a key or a token.
 */
export function createUsageRecorder(opts: UsageRecorderOptions) {
  const { logger, maxBacklog } = opts;
  const batchSize = opts.batchSize ?? 500;
  const stopWithinMs = opts.stopWithinMs ?? 5000;
  let pending: UsageEntry[] = [];
  let draining: Promise<boolean> | null = null;
  let retryAt = 0;
  let retryMs = RETRY_MIN_MS;
  /** Set once stop() is out of time: the write under way is the last. */
  let halted = false;
  /** Entries dropped since the backlog filled, not yet reported. */
  let overflowed = 0;

  function reportOverflow(): void {
    if (overflowed === 0) return;
    logger.warn({ dropped: overflowed }, 'API key activity dropped while the backlog was full');
    overflowed = 0;
  }

  /** Writes everything waiting, batch by batch; false when a write failed (its entries wait on). */
  async function drain(): Promise<boolean> {
    while (pending.length && !halted) {
      const taken = pending.slice(0, batchSize);
      // Ids are made per batch (one random prefix, then a counter): no randomness per request.
      const prefix = randomBase62(12);
      try {
        await opts.write(taken.map((entry, i) => ({ id: `${prefix}${i.toString(36)}`, ...entry })));
      } catch (err) {
        logger.warn(
          { err: { message: (err as Error).message, code: (err as { code?: string }).code }, waiting: pending.length },
          'could not write API key activity; will retry',
        );
        retryAt = Date.now() + retryMs;
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        return false;
      }
      // New entries only ever join at the end; the written ones are the first `taken.length`.
      if (pending[0] === taken[0]) pending.splice(0, taken.length);
      retryMs = RETRY_MIN_MS;
      reportOverflow();
    }
    return true;
  }

  /** Starts a drain unless one is running; resolves when that drain ends. */
  function run(): Promise<boolean> {
    draining ??= drain().finally(() => (draining = null));
    return draining;
  }

  /** Writes what is waiting now (the drain running, then another for what it did not take). */
  async function flush(): Promise<void> {
    if (draining) await draining;
    if (pending.length) await run();
  }

  const timer = setInterval(() => {
    if (!draining && pending.length && Date.now() >= retryAt) void run();
  }, opts.everyMs ?? 1000);
  timer.unref();

  return {
    add(entry: UsageEntry): void {
      if (pending.length >= maxBacklog) {
        if (overflowed === 0) logger.warn({ limit: maxBacklog }, 'API key activity backlog full; dropping entries');
        overflowed += 1;
        return;
      }
      pending.push(entry);
      if (pending.length >= batchSize && !draining && Date.now() >= retryAt) void run();
    },
    flush,
    /** Writes what it can within `stopWithinMs`; returns how many entries it had to drop. */
    async stop(): Promise<number> {
      clearInterval(timer);
      const deadline = Date.now() + stopWithinMs;
      while (pending.length && Date.now() < deadline) {
        const written = await within(run(), deadline - Date.now());
        if (written === false && Date.now() < deadline) await sleep(Math.min(500, deadline - Date.now()));
      }
      // Out of time: the write under way (if any) is the last. Its outcome decides what was
      // dropped; a write that does not even settle is counted as dropped (it may yet commit).
      halted = true;
      const unsettled = draining !== null && (await within(draining, SETTLE_MS)) === LATE;
      const dropped = pending.length;
      pending = [];
      if (dropped)
        logger.warn(
          { dropped, unsettled, withinMs: stopWithinMs },
          'API key activity not written before shutdown; dropped',
        );
      reportOverflow();
      return dropped;
    },
  };
}
export type UsageRecorder = ReturnType<typeof createUsageRecorder>;
