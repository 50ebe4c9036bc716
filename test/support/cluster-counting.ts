// A real node:cluster of two workers counting rate limits through the primary, as `latchkey serve
// --workers 2` does on SQLite (cluster-store.ts), for cluster-store.test.ts. The primary prints one
// JSON line: how many messages the workers' stores sent it, and each worker's counts.
//
//   node --import tsx test/support/cluster-counting.ts <hits per worker> <hits per turn> <limit>
import cluster from 'node:cluster';
import { createClusterStore, serveClusterRateLimits } from '../../src/features/rate-limit/cluster-store.ts';

const [hits, perTurn, limit] = process.argv.slice(2).map(Number) as [number, number, number];
const KEY = 'key:cluster-counting';
const HOUR = 3_600_000;

if (cluster.isPrimary) {
  serveClusterRateLimits();
  let messages = 0;
  const counts: number[][] = [];
  cluster.on('message', (_worker, msg: { type?: string; counts?: number[] }) => {
    if (msg?.type !== 'done') {
      messages += 1; // whatever the store sends the primary
      return;
    }
    counts.push(msg.counts!);
    if (counts.length === 2) {
      process.stdout.write(`${JSON.stringify({ messages, counts })}\n`);
      for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    }
  });
  cluster.fork();
  cluster.fork();
} else {
  const store = createClusterStore();
  const seen: number[] = [];
  for (let sent = 0; sent < hits; sent += perTurn) {
    const turn = Array.from({ length: Math.min(perTurn, hits - sent) }, () => store.hit(KEY, HOUR, Date.now(), limit));
    for (const hit of await Promise.all(turn)) seen.push(hit.count);
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.send!({ type: 'done', counts: seen });
}
