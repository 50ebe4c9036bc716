/**
 * The in-memory rate-limit store alone, as the 1M-key bench row loads it: `--keys` API keys in
 * turn at `--rate` requests a second, each counted in a key's two windows (an hour and a second)
 * under the bucket string the limiter builds. Prints {windows, heapMiB, cpuUsPerRequest}: the
 * windows held at the end, the heap they keep (after a full GC) and the CPU of a request's two hits.
 *
 *   node --expose-gc --import tsx bench/rate-store.ts [--keys 50000] [--n 300000] [--rate 5000]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createMemoryStore } from '../src/features/rate-limit/store.ts';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '50000' },
    n: { type: 'string', default: '300000' },
    rate: { type: 'string', default: '5000' },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const ids = Array.from({ length: Number(values.keys) }, () => randomBytes(9).toString('base64url'));
const n = Number(values.n);
const step = 1000 / Number(values.rate);

const store = createMemoryStore();
gc();
const heapBefore = process.memoryUsage().heapUsed;
let now = Date.UTC(2026, 11, 2, 12, 0, 0);
const cpuBefore = process.cpuUsage();
for (let i = 0; i < n; i++) {
  now += step;
  // As the limiter builds it: `v2:` + `key:${id}`, one string per request for both windows.
  const bucket = `v2:${`key:${ids[i % ids.length]}`}`;
  store.hit(bucket, 3_600_000, now);
  store.hit(bucket, 1000, now);
}
const cpu = process.cpuUsage(cpuBefore);
gc();
const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 1048576;
const cpuUsPerRequest = (cpu.user + cpu.system) / n;
const result = { windows: store.size, heapMiB: +heapMiB.toFixed(2), cpuUsPerRequest: +cpuUsPerRequest.toFixed(2) };
process.stdout.write(`${JSON.stringify(result)}\n`);
