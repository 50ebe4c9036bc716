/**
 * Raw argon2id verify throughput at Latchkey's parameters (m=19456 KiB, t=2, p=1), in its own
 * process: `inFlight` verifies kept outstanding (as 50 connections would keep logins waiting) for
 * `seconds`, on libuv's default thread pool, the same one the server's logins use.
 * Prints {verifies, seconds, perSecond, p50, p99, peakMiB, cpuMs, latencies} (latencies in ms; cpuMs: CPU
 * time of the whole process, every thread, during the window).
 *
 *   node --import tsx bench/argon2-raw.ts [seconds=10] [inFlight=50] [memoryKiB=19456] [timeCost=2]
 */
import fs from 'node:fs';
import argon2 from 'argon2';

const [seconds = 10, inFlight = 50, memoryCost = 19_456, timeCost = 2] = process.argv.slice(2).map(Number);
const options = { type: argon2.argon2id as 2, memoryCost, timeCost, parallelism: 1 };
const password = 'bench passphrase 0123';
const hash = await argon2.hash(password, options);
// Warm the pool (thread start-up, first allocations).
await Promise.all(Array.from({ length: 4 }, () => argon2.verify(hash, password)));

const latencies: number[] = [];
const cpuStart = process.cpuUsage();
const started = performance.now();
const deadline = started + seconds * 1000;
// Closed loop, like the HTTP load: each slot starts its next verify when the last one is done;
// only verifies finished inside the window count, and the process exits at the deadline.
const worker = async () => {
  for (;;) {
    const t = performance.now();
    if (!(await argon2.verify(hash, password))) throw new Error('verify failed');
    const end = performance.now();
    if (end > deadline) return;
    latencies.push(end - t);
  }
};
for (let i = 0; i < inFlight; i++) void worker();
await new Promise((r) => setTimeout(r, deadline - performance.now()));
const cpu = process.cpuUsage(cpuStart);
const n = latencies.length;
const inOrder = latencies.map((v) => Math.round(v * 100) / 100);
latencies.sort((a, b) => a - b);
const at = (p: number) => latencies[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] ?? NaN;
const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
const result = {
  verifies: n,
  seconds,
  perSecond: n / seconds,
  p50: at(50),
  p99: at(99),
  peakMiB: Number(hwm) / 1024,
  cpuMs: (cpu.user + cpu.system) / 1000,
  latencies: inOrder,
};
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
