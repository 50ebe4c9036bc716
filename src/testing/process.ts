import { spawn } from 'node:child_process';
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
export function runNode(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const env: Record<string, string> = { LOG_LEVEL: 'silent' };
  for (const [key, value] of Object.entries(process.env)) if (INHERITED.test(key) && value !== undefined) env[key] = value;
  Object.assign(env, opts.env);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let timedOut = false;
    // Generous: each run loads the whole app through tsx, and the suite runs files side by side.
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

/** `node bin/latchkey.js <args>`: the CLI as `npx latchkey` runs it. */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string } = {}): Promise<RunResult> {
  return runNode(['bin/latchkey.js', ...args], opts);
}
