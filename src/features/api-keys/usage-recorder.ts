import type { ApiKeyActivityRow } from '../../db/schema.ts';
import { randomBase62 } from '../../shared/secrets.ts';

export type UsageEntry = Omit<ApiKeyActivityRow, 'id'>;

/**
 * Collects API key activity in memory and writes it in one transaction per batch, so the hot
 * path never waits on a disk write (one insert per request would cost more than the request).
 * Flushed every second, when 500 entries are waiting, before reads, and on stop. A crash loses at
 * most the last second of activity log, never a key or a token.
 */
export function createUsageRecorder(write: (rows: ApiKeyActivityRow[]) => Promise<void>, everyMs = 1000) {
  let pending: UsageEntry[] = [];
  let inFlight: Promise<void> = Promise.resolve();

  const flush = (): Promise<void> => {
    if (pending.length) {
      // Ids are made per batch (one random prefix, then a counter): no randomness per request.
      const prefix = randomBase62(12);
      const batch = pending.map((entry, i) => ({ id: `${prefix}${i.toString(36)}`, ...entry }));
      pending = [];
      inFlight = inFlight.then(() => write(batch)).catch(() => {
        /* activity is best-effort; the next batch is independent */
      });
    }
    return inFlight;
  };

  const timer = setInterval(() => void flush(), everyMs);
  timer.unref();

  return {
    add(entry: UsageEntry): void {
      pending.push(entry);
      if (pending.length >= 500) void flush();
    },
    flush,
    async stop(): Promise<void> {
      clearInterval(timer);
      await flush();
    },
  };
}
