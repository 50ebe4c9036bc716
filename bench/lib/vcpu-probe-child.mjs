/**
 * The vCPU speed probe's worker, run pinned to one CPU (`taskset -c N node vcpu-probe-child.mjs
 * PERIOD_MS`). Every PERIOD_MS it runs the same batch of work a server does in small (objects,
 * JSON, a Map, a SHA-256) and prints `<epoch ms> <CPU ms of the batch>`. On an idle host the batch
 * costs the same every time; a host that gives this vCPU a slower share (another guest on the
 * same core, say) shows here as a batch that costs more, though the guest's steal time stays 0.
 * Plain JavaScript, so it starts without a TypeScript loader.
 */
import { createHash } from 'node:crypto';

const periodMs = Number(process.argv[2] ?? 1000);
const ITERATIONS = 8000;
const kept = new Map();

function batch() {
  const before = process.cpuUsage();
  for (let i = 0; i < ITERATIONS; i++) {
    const o = { id: i, sub: `client-${i % 977}`, scope: ['a', 'b', 'c'], exp: Date.now() + i, nested: { x: i * 2 } };
    const text = JSON.stringify(o);
    const back = JSON.parse(text);
    kept.set(back.sub + (i % 5000), back);
    if (kept.size > 20000) kept.clear();
    createHash('sha256').update(text).digest('base64url');
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

// Until V8 has compiled the loop a batch costs several times its steady CPU.
for (let i = 0; i < 30; i++) batch();
setInterval(() => {
  const ms = batch();
  process.stdout.write(`${Date.now()} ${ms.toFixed(2)}\n`);
}, periodMs);
