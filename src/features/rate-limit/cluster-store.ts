import cluster from 'node:cluster';
import { createLeasedCounts, type Reservation, type Reserved } from './leased-counts.ts';
import { createMemoryStore, type MemoryStore, type RateLimitStore } from './store.ts';

/**
 * Counters shared by the workers of one `latchkey serve --workers N` (node:cluster) when there is
 * no shared database store (SQLite): the primary keeps them in memory, and each worker reserves
 * counts there over the cluster's IPC channel and hands them out itself (leased-counts.ts), so a
 * busy key costs a message now and then rather than one per request. Without this each worker
 * would count alone and every limit would be N times the configured one.
 */

/** IPC messages: a worker's reservations (one message per event-loop turn) and the primary's counts. */
const RESERVE = 'latchkey:rate-limit-reserve';
const COUNTS = 'latchkey:rate-limit-counts';

interface ReserveMessage {
  type: typeof RESERVE;
  id: number;
  now: number;
  rows: Reservation[];
}
interface CountsMessage {
  type: typeof COUNTS;
  id: number;
  /** Each row after the addition, in the order asked. */
  counts: Reserved[];
}

/** Adds each reservation to `store`: each row after it, in the order given. */
const addAll = (store: MemoryStore, rows: Reservation[], now: number): Reserved[] =>
  rows.map((r) => {
    const { count, resetAt } = store.add(r.key, r.windowMs, now, r.points);
    return { points: count, expire: resetAt };
  });

/** Each row's count by its key, as a reservation answers. */
const byKey = (rows: Reservation[], counted: Reserved[]): Map<string, Reserved> =>
  new Map(rows.map((r, i) => [r.key, counted[i]!]));

/** In the primary: counts every worker's reservations in one store, in the order they arrive. */
export function serveClusterRateLimits(store: MemoryStore = createMemoryStore()): void {
  cluster.on('message', (worker, msg: ReserveMessage) => {
    if (msg?.type !== RESERVE) return;
    const counts = addAll(store, msg.rows, msg.now);
    if (worker.isConnected()) worker.send({ type: COUNTS, id: msg.id, counts } satisfies CountsMessage);
  });
}

/**
 * In a worker: a store that counts in the primary. Should the primary not answer within
 * `timeoutMs` (it is going away; the worker then stops too), the reservation is counted in this
 * worker alone rather than refused or let through.
 */
export function createClusterStore(opts: { timeoutMs?: number; maxRows?: number } = {}): RateLimitStore {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const local = createMemoryStore();
  const sent = new Map<
    number,
    { rows: Reservation[]; resolve(counts: Map<string, Reserved>): void; timer: NodeJS.Timeout }
  >();
  let nextId = 0;

  process.on('message', (msg: CountsMessage) => {
    if (msg?.type !== COUNTS) return;
    const entry = sent.get(msg.id);
    if (!entry) return;
    sent.delete(msg.id);
    clearTimeout(entry.timer);
    entry.resolve(byKey(entry.rows, msg.counts));
  });

  const counts = createLeasedCounts(
    (rows, now) =>
      new Promise((resolve) => {
        const id = nextId++;
        const giveUp = () => {
          if (!sent.delete(id)) return;
          clearTimeout(timer);
          resolve(byKey(rows, addAll(local, rows, now)));
        };
        const timer = setTimeout(giveUp, timeoutMs);
        timer.unref();
        sent.set(id, { rows, resolve, timer });
        if (!process.send || !process.connected) {
          giveUp();
          return;
        }
        const message: ReserveMessage = { type: RESERVE, id, now, rows };
        process.send(message, undefined, {}, (err) => {
          if (err) giveUp();
        });
      }),
    opts,
  );

  return {
    hit(key, windowMs, _now, limit) {
      // One row per bucket and window length: a policy's hourly and burst windows share the bucket.
      return counts.hit(`${windowMs}:${key}`, windowMs, limit);
    },
  };
}
