import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { CredentialEvent, CredentialEvents } from './credential-events.ts';
import {
  CREDENTIAL_EVENTS_CHANNEL,
  type CredentialEventsRepo,
  type StoredCredentialEvent,
} from './credential-events.repo.ts';
import { startPgListener } from './pg-listener.ts';
import { loadPg } from '../db/pg-driver.ts';
import { within } from './within.ts';

/** Rows are kept this long: an instance cut off for longer has let its caches expire anyway. */
const RETAIN_MS = 5 * 60_000;
const PRUNE_EVERY_MS = 60_000;
/** Rows read per query while catching up. */
const READ_BATCH = 500;
/**
 * A missing id below ids already read is an insert not yet committed (PostgreSQL hands out ids
 * before commit, so commits can land out of order) or one that failed: waited for this long.
 */
const GAP_WAIT_MS = 5_000;
/** Events waiting to be written while the database is unreachable; the oldest go first beyond it. */
const MAX_PENDING = 10_000;
const FIRST_RETRY_MS = 100;
const LONGEST_RETRY_MS = 5_000;

export interface CredentialRelay {
  /** Stops reading, writes what is still waiting (bounded by `flushMs`), stops listening. */
  stop(opts?: { flushMs?: number }): Promise<void>;
}

const keyOf = (e: CredentialEvent) => (e.kind === 'tokens' ? 'tokens' : `${e.kind}:${e.id}`);

function toEvent(row: StoredCredentialEvent): CredentialEvent | null {
  if (row.kind === 'tokens') return { kind: 'tokens' };
  if ((row.kind === 'api_key' || row.kind === 'account' || row.kind === 'application') && row.subject)
    return { kind: row.kind, id: row.subject };
  return null;
}

/**
 * Carries credential events between instances that share a database, so that a revocation on one
 * holds on all within about a second rather than CREDENTIAL_CACHE_TTL. Every event published here
 * is appended to `credential_events`; every instance reads the rows above the last id it saw, every
 * `pollMs` and, on PostgreSQL, at once when a NOTIFY says there is something new. The poll alone
 * converges (SQLite, several processes on one file; a missed notification; no LISTEN behind a
 * pooler); the notification only makes it sooner. Events go out after the change they describe is
 * committed, and are retried until written while the database is unreachable.
 */
export async function startCredentialRelay(deps: {
  repo: CredentialEventsRepo;
  events: CredentialEvents;
  pollMs: number;
  /** PostgreSQL connection string to LISTEN with; null: poll only. */
  listenUrl: string | null;
  logger: Logger;
}): Promise<CredentialRelay> {
  const { repo, events, logger } = deps;
  const origin = crypto.randomBytes(9).toString('base64url');
  let stopped = false;

  // Out: events of this instance, written in order, one batch at a time, retried with back-off.
  let pending = new Map<string, CredentialEvent>();
  let writing: Promise<void> | null = null;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = FIRST_RETRY_MS;
  let writeFailing = false;

  function write(): Promise<void> {
    if (writing || retryTimer) return writing ?? Promise.resolve();
    writing = (async () => {
      while (pending.size) {
        const batch = pending;
        pending = new Map();
        const t = Date.now();
        try {
          await repo.append(
            [...batch.values()].map((e) => ({
              origin,
              kind: e.kind,
              subject: e.kind === 'tokens' ? null : e.id,
              created_at: t,
            })),
          );
          retryMs = FIRST_RETRY_MS;
          if (writeFailing) logger.info('credential events: written again');
          writeFailing = false;
        } catch (err) {
          // Put the batch back ahead of what came since, and try again later.
          pending = new Map([...batch, ...pending]);
          for (const key of [...pending.keys()].slice(0, Math.max(0, pending.size - MAX_PENDING))) pending.delete(key);
          if (!writeFailing)
            logger.warn(
              { err: { message: (err as Error).message } },
              'credential events: cannot write them yet; retrying',
            );
          writeFailing = true;
          if (!stopped) {
            retryTimer = setTimeout(() => {
              retryTimer = undefined;
              void write();
            }, retryMs);
            retryTimer.unref();
            retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
          }
          return;
        }
      }
    })().finally(() => {
      writing = null;
    });
    return writing;
  }

  events.relayTo((event) => {
    pending.delete(keyOf(event));
    pending.set(keyOf(event), event);
    void write();
  });

  // In: rows above `floor` (every id up to it has been seen), applied once each.
  let floor = await repo.lastId();
  const applied = new Set<number>();
  let gapSince: number | null = null;
  let reading: Promise<void> | null = null;
  let readAgain = false;
  let readFailing = false;

  function advanceFloor(): void {
    while (applied.delete(floor + 1)) floor++;
    if (!applied.size) {
      gapSince = null;
      return;
    }
    const t = Date.now();
    gapSince ??= t;
    if (t - gapSince >= GAP_WAIT_MS) {
      floor = Math.min(...applied) - 1;
      gapSince = null;
      advanceFloor();
    }
  }

  async function readOnce(): Promise<void> {
    for (;;) {
      const rows = await repo.after(floor, READ_BATCH);
      for (const row of rows) {
        if (applied.has(row.id) || row.id <= floor) continue;
        applied.add(row.id);
        const event = row.origin === origin ? null : toEvent(row);
        if (event) events.receive(event);
      }
      advanceFloor();
      if (rows.length < READ_BATCH) return;
    }
  }

  function read(): Promise<void> {
    if (reading) {
      readAgain = true;
      return reading;
    }
    reading = (async () => {
      do {
        readAgain = false;
        try {
          await readOnce();
          if (readFailing) logger.info('credential events: reading again');
          readFailing = false;
        } catch (err) {
          if (!readFailing)
            logger.warn({ err: { message: (err as Error).message } }, 'credential events: cannot read them; retrying');
          readFailing = true;
          return;
        }
      } while (readAgain && !stopped);
    })().finally(() => {
      reading = null;
    });
    return reading;
  }

  let pollTimer: NodeJS.Timeout | undefined;
  const poll = async () => {
    await read();
    if (stopped) return;
    pollTimer = setTimeout(poll, deps.pollMs);
    pollTimer.unref();
  };
  pollTimer = setTimeout(poll, deps.pollMs);
  pollTimer.unref();

  const pruneTimer = setInterval(() => {
    repo
      .deleteOlderThan(Date.now() - RETAIN_MS)
      .catch((err: unknown) => logger.debug({ err }, 'credential events: prune failed'));
  }, PRUNE_EVERY_MS);
  pruneTimer.unref();

  const listener = deps.listenUrl
    ? startPgListener({
        driver: loadPg(),
        url: deps.listenUrl,
        channel: CREDENTIAL_EVENTS_CHANNEL,
        onNotification: () => void read(),
        onListening: () => void read(),
        logger,
      })
    : null;

  return {
    async stop({ flushMs = 2_000 } = {}) {
      stopped = true;
      clearTimeout(pollTimer);
      clearInterval(pruneTimer);
      clearTimeout(retryTimer);
      retryTimer = undefined;
      await listener?.stop();
      await reading;
      // What this instance revoked last still reaches the others, unless the database is gone.
      await within(write(), flushMs);
      if (pending.size)
        logger.warn(
          { events: pending.size },
          'credential events not written at shutdown; other instances forget within CREDENTIAL_CACHE_TTL',
        );
    },
  };
}
