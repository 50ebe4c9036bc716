/**
 * How fast each vCPU of the machine is while the bench runs. This machine is a virtual machine:
 * its host sometimes gives one vCPU, or both, a slower share for minutes at a time (the same fixed
 * work then costs 1.5–6× its best CPU time), and the guest's steal time does not show it. Every CPU
 * figure of the bench is CPU time, so a slice measured then reads high whatever the server does.
 *
 * One probe process per CPU, pinned with `taskset`, runs a fixed batch every second (about 20 ms
 * of work on a steady vCPU, so it takes 2–3 % of each) and reports what the batch cost. A slice is
 * then read against the batches that ran during it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './proc.ts';

const PERIOD_MS = 1000;
/**
 * A vCPU whose batches cost this much more than its best of the run counts as slow. The load of a
 * slice alone raises the cost by 10–25 % (the probe shares its vCPU with a busy server); a slower
 * share from the host raised it 1.5–6× in the runs that found it.
 */
export const SLOW_VCPU = 1.4;

export interface VcpuProbes {
  /** What each batch that ended in [fromMs, toMs] (epoch ms) cost, CPU ms, per vCPU. */
  costsWithin(fromMs: number, toMs: number): number[][];
  /** Mean CPU ms of a batch on each vCPU over [fromMs, toMs]; null where no batch ran then. */
  during(fromMs: number, toMs: number): (number | null)[];
  /** Each vCPU's fastest batch of the run so far. */
  best(): number[];
  stop(): void;
}

/** When a slice's load ran, epoch ms. */
export interface SliceWindow {
  fromMs: number;
  toMs: number;
}

/** Starts one probe per CPU, or says why not (`taskset` missing: a probe could not be pinned). */
export function startVcpuProbes(): VcpuProbes | { unavailable: string } {
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return { unavailable: 'taskset is not available' };
  const cpus = os.cpus().length;
  const samples: [number, number][][] = Array.from({ length: cpus }, () => []);
  const procs: ChildProcess[] = [];
  for (let cpu = 0; cpu < cpus; cpu++) {
    const child = spawn(
      'taskset',
      ['-c', String(cpu), process.execPath, path.join(ROOT, 'bench/lib/vcpu-probe-child.mjs'), String(PERIOD_MS)],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [at, ms] = line.split(' ').map(Number);
        if (Number.isFinite(at) && Number.isFinite(ms)) samples[cpu]!.push([at!, ms!]);
      }
    });
    procs.push(child);
  }
  const costsWithin = (fromMs: number, toMs: number) =>
    samples.map((list) => list.filter(([at]) => at >= fromMs && at <= toMs).map(([, ms]) => ms));
  return {
    costsWithin,
    during: (fromMs, toMs) =>
      costsWithin(fromMs, toMs).map((costs) => (costs.length ? costs.reduce((a, b) => a + b, 0) / costs.length : null)),
    // NaN for a vCPU whose probe has reported nothing: it is then never counted as slow.
    best: () => samples.map((list) => (list.length ? Math.min(...list.map(([, ms]) => ms)) : Number.NaN)),
    stop() {
      for (const p of procs) p.kill('SIGKILL');
    },
  };
}

/** A measured group, as the report names it, and when each of its rows' slices ran. */
export interface GroupWindows {
  name: string;
  slices: (SliceWindow & { row: string })[];
}

/** Lines for the bench's report: each group's range of batch costs per vCPU, and its slow slices. */
export function vcpuReport(probes: VcpuProbes, groups: GroupWindows[]): string[] {
  const best = probes.best();
  const fmt = (ms: number) => (Number.isNaN(ms) ? '—' : ms.toFixed(0));
  const out = [
    '',
    `vCPU speed during each group (the probe's fixed batch, CPU ms; best of the run ${best.map(fmt).join(' / ')}; ` +
      `a slice is slow where a vCPU cost ≥ ${SLOW_VCPU}× its best):`,
  ];
  for (const g of groups) {
    if (g.slices.length === 0) continue;
    const from = Math.min(...g.slices.map((s) => s.fromMs));
    const to = Math.max(...g.slices.map((s) => s.toMs));
    const ranges = probes.costsWithin(from, to).map((inside, cpu) => {
      if (inside.length === 0) return `vCPU${cpu} —`;
      const worst = Math.max(...inside);
      return `vCPU${cpu} ${fmt(Math.min(...inside))}–${fmt(worst)} (${(worst / best[cpu]!).toFixed(2)}×)`;
    });
    const slow = slowSlices(probes, g.slices);
    const rowsHit = [...new Set(slow.map((s) => s.row))];
    out.push(
      `  ${g.name}: ${ranges.join(', ')}; ` +
        (slow.length ? `slow in ${slow.length} of ${g.slices.length} slices (${rowsHit.join(', ')})` : 'no slow slice'),
    );
  }
  return out;
}

/** The slices that ran while a vCPU's batches cost SLOW_VCPU× its best or more. */
export function slowSlices<S extends SliceWindow>(probes: VcpuProbes, slices: S[]): S[] {
  const best = probes.best();
  return slices.filter((s) =>
    probes.during(s.fromMs, s.toMs).some((ms, cpu) => ms !== null && ms >= SLOW_VCPU * best[cpu]!),
  );
}
