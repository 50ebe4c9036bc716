import cluster from 'node:cluster';
import { createMemoryStore, type RateLimitStore, type WindowHit } from './store.ts';

/**
 * Counters shared by the workers of one `latchkey serve --workers N` (node:cluster) when there is
 * no shared database store (SQLite): the primary keeps them in memory and each worker asks it over
 * the cluster's IPC channel. Without this each worker would count alone and every limit would be
 * N times the configured one.
 */

/** IPC messages: a worker's hits (one message per event-loop turn) and the primary's counts. */
const HITS = 'latchkey:rate-limit-hits';
const COUNTS = 'latchkey:rate-limit-counts';

type Hit = [key: string, windowMs: number, now: number];
interface HitsMessage {
  type: typeof HITS;
  id: number;
  hits: Hit[];
}
interface CountsMessage {
  type: typeof COUNTS;
  id: number;
  counts: WindowHit[];
}

/** In the primary: counts every worker's hits in one store, in the order they arrive. */
export function serveClusterRateLimits(store: RateLimitStore = createMemoryStore()): void {
  cluster.on('message', (worker, msg: HitsMessage) => {
    if (msg?.type !== HITS) return;
    void Promise.all(msg.hits.map(([key, windowMs, now]) => store.hit(key, windowMs, now))).then((counts) => {
      if (worker.isConnected()) worker.send({ type: COUNTS, id: msg.id, counts } satisfies CountsMessage);
    });
  });
}

interface Waiting {
  hit: Hit;
  resolve(count: WindowHit | Promise<WindowHit>): void;
}

/**
 * In a worker: a store that counts in the primary. The hits of one event-loop turn travel in one
 * message. Should the primary not answer within `timeoutMs` (it is going away; the worker then
 * stops too), the hits are counted in this worker alone rather than refused or let through.
 */
export function createClusterStore(opts: { timeoutMs?: number } = {}): RateLimitStore {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const local = createMemoryStore();
  const sent = new Map<number, { batch: Waiting[]; timer: NodeJS.Timeout }>();
  let queued: Waiting[] = [];
  let nextId = 0;

  const countLocally = (batch: Waiting[]) => {
    for (const w of batch) w.resolve(local.hit(...w.hit));
  };

  process.on('message', (msg: CountsMessage) => {
    if (msg?.type !== COUNTS) return;
    const entry = sent.get(msg.id);
    if (!entry) return;
    sent.delete(msg.id);
    clearTimeout(entry.timer);
    for (const [i, w] of entry.batch.entries()) w.resolve(msg.counts[i]!);
  });

  function send(): void {
    const batch = queued;
    queued = [];
    const id = nextId++;
    const giveUp = () => {
      if (!sent.delete(id)) return;
      clearTimeout(timer);
      countLocally(batch);
    };
    const timer = setTimeout(giveUp, timeoutMs);
    timer.unref();
    sent.set(id, { batch, timer });
    const message: HitsMessage = { type: HITS, id, hits: batch.map((w) => w.hit) };
    if (!process.send || !process.connected) {
      giveUp();
      return;
    }
    process.send(message, undefined, {}, (err) => {
      if (err) giveUp();
    });
  }

  return {
    hit(key, windowMs, now) {
      return new Promise<WindowHit>((resolve) => {
        if (queued.length === 0) setImmediate(send);
        queued.push({ hit: [key, windowMs, now], resolve });
      });
    },
  };
}
