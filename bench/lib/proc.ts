/**
 * Child processes for the benchmark: every server under test (Latchkey, bare Koa, oidc-provider
 * in memory) and the raw argon2 probe runs in its own process, so its peak RSS can be read from
 * /proc and the load generator never shares its JavaScript thread.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export { freePort } from '../../test/support/server.ts';

/** Peak resident set (VmHWM) and current RSS of a process, in MiB; null once it is gone. */
export function memoryOf(pid: number): { peakMiB: number; rssMiB: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return { peakMiB: kib('VmHWM') / 1024, rssMiB: kib('VmRSS') / 1024 };
  } catch {
    return null;
  }
}

/**
 * Resets a process's VmHWM to its current RSS (Linux: `5` into /proc/<pid>/clear_refs), so the
 * next reading is the peak of what ran since. False where the kernel refuses it; peaks then
 * accumulate over the process's life (the README says so).
 */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system, all threads) a process has used, in ms; null once it is gone. */
export function cpuMsOf(pid: number): number | null {
  try {
    // Fields after the command name (which may contain spaces): utime is the 12th, stime the 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** A process and its descendants (`serve --workers N`: the primary and its workers), from /proc. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++)
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** CPU time of a process and its descendants, in ms; null once the process itself is gone. */
export function cpuMsOfTree(pid: number): number | null {
  const own = cpuMsOf(pid);
  if (own === null) return null;
  return processTree(pid)
    .slice(1)
    .reduce((sum, p) => sum + (cpuMsOf(p) ?? 0), own);
}

/**
 * Waits until a process and its workers are idle (under 5% of one core over 200 ms), at most
 * `maxMs`. A load that stops leaves requests in flight (for logins, argon2 jobs queued for
 * seconds); the next measurement must not pay for them.
 */
export async function settle(pid: number, maxMs = 20_000): Promise<number> {
  const start = Date.now();
  let last = cpuMsOfTree(pid);
  while (last !== null && Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 200));
    const now = cpuMsOfTree(pid);
    if (now === null || now - last < 10) break;
    last = now;
  }
  return Date.now() - start;
}

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  /** Everything the process wrote to stderr (kept for error messages). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number, err: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before it was ready:\n${err()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms:\n${err()}`);
}

/**
 * Starts `node --import tsx [nodeArgs] <script>` from the project root with `env`, listening on
 * `port`, and waits until `readyPath` answers. The child's stdout is discarded (LOG_LEVEL=silent
 * anyway); stderr is kept for error reports.
 */
export async function startChild(opts: {
  name: string;
  script: string;
  /** Arguments after the script. */
  args?: string[];
  port: number;
  env: Record<string, string>;
  readyPath: string;
  nodeArgs?: string[];
  timeoutMs?: number;
  /** A TypeScript script needs tsx's loader; compiled JavaScript (`dist/server/main.js`) runs without it. */
  typescript?: boolean;
}): Promise<Child> {
  const loader = opts.typescript === false ? [] : ['--import', 'tsx'];
  const proc = spawn(process.execPath, [...loader, ...(opts.nodeArgs ?? []), opts.script, ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env, PORT: String(opts.port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-20_000);
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    name: opts.name,
    proc,
    pid: proc.pid!,
    url,
    port: opts.port,
    stderr: () => stderr,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitForHttp(url + opts.readyPath, proc, opts.timeoutMs ?? 30_000, () => stderr);
  } catch (e) {
    await child.stop(1000);
    throw e;
  }
  return child;
}

/** Runs a command to completion; resolves with stdout, rejects with stderr on a non-zero exit. */
export function runCommand(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.slice(-4).join(' ')} exited ${code ?? signal}: ${err.trim().slice(-2000)}`));
    });
    proc.stdin.end(opts.input ?? '');
  });
}
