import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json lives). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What a spawned Latchkey inherits from the test runner: only the basics, so no setting
 * (PORT, DATABASE_URL, JWT_SECRET, ...) or test-runner variable leaks in.
 */
const INHERITED = /^(PATH|HOME|USER|TMPDIR|TMP|TEMP|LANG|LC_\w+|TZ|SYSTEMROOT|SystemRoot)$/;

/** oidc-provider prints this on Node 20 (it prefers 22+); it is not Latchkey's output. */
const RUNTIME_WARNING = /^oidc-provider WARNING: Unsupported runtime/;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Non-empty stderr lines, without oidc-provider's unsupported-runtime warning. */
  stderrLines: string[];
  /** True when the process was killed for taking longer than `timeoutMs`. */
  timedOut: boolean;
}

/** Runs `node <args>` in the project root with a clean environment plus `env`, feeding `input` on stdin. */
export function runNode(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const env: Record<string, string> = { LOG_LEVEL: 'silent' };
  for (const [key, value] of Object.entries(process.env))
    if (INHERITED.test(key) && value !== undefined) env[key] = value;
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    // Generous: servers load the whole app through tsx, and the suite runs files side by side.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderrLines = stderr.split(/\r?\n/).filter((l) => l.trim() && !RUNTIME_WARNING.test(l));
      resolve({ code, stdout, stderr, stderrLines, timedOut });
    });
    child.stdin.end(opts.input ?? '');
  });
}

let distBuilt: Promise<void> | undefined;

/**
 * dist/ as bin/latchkey.js and `npm start` run it: bin/latchkey.js compiles src/ first when it
 * changed since the last build (a minute or more on a busy machine). Done once per test file, with
 * time to spare, so that the commands a test runs and times start at once.
 */
export function buildDist(): Promise<void> {
  distBuilt ??= runNode(['bin/latchkey.js', '--help'], { timeoutMs: 600_000 }).then((r) => {
    if (r.code !== 0) throw new Error(`building dist/ failed (exit ${r.code}): ${r.stderr}`);
  });
  return distBuilt;
}

/** `node bin/latchkey.js <args>`: the CLI as `npx latchkey` runs it (compiled, from dist/). */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<RunResult> {
  await buildDist();
  return runNode(['bin/latchkey.js', ...args], opts);
}

export interface SpawnedNode {
  child: ChildProcess;
  /** Standard output so far, line by line. */
  stdoutLines(): string[];
  stderr(): string;
  /** Resolves with the first stdout line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node <args>` in the project root with a clean environment plus `env` and leaves it
 * running (a server, for tests that signal it). Kill it yourself when done; see `exited`.
 */
export function spawnNode(args: string[], opts: { env?: Record<string, string> } = {}): SpawnedNode {
  const env: Record<string, string> = { LOG_LEVEL: 'silent' };
  for (const [key, value] of Object.entries(process.env))
    if (INHERITED.test(key) && value !== undefined) env[key] = value;
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set<{ pattern: RegExp; resolve(line: string): void }>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters) {
        if (!w.pattern.test(line)) continue;
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdoutLines: () => [...lines],
    stderr: () => stderr,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`no stdout line matching ${pattern} within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`exited before a stdout line matching ${pattern}; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
  };
}
