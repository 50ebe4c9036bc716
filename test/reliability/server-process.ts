/**
 * The real server as a child process (`node --conditions=development --import tsx src/main.ts`),
 * as `npm start` runs it, for tests that kill it: spawn on a port, wait until /readyz answers,
 * kill with a signal and wait for the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT } from '../support/process.ts';
import { sleep } from './helpers.ts';

/** Only the basics are inherited, so no setting of the test runner leaks into the server. */
const INHERITED = /^(PATH|HOME|USER|TMPDIR|TMP|TEMP|LANG|LC_\w+|TZ)$/;

export interface ServerProcess {
  port: number;
  url: string;
  pid: number;
  /** False once the process has exited. */
  alive(): boolean;
  /** Sends `signal` and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Everything it wrote on stdout so far (its JSON log lines). */
  stdout(): string;
  /** Log lines at level error or above (LOG_LEVEL permitting), and anything on stderr but the Node 20 warning. */
  errors(): string[];
}

import { freePort, onFreePort } from '../support/server.ts';

export { freePort };

/**
 * Starts `src/main.ts` with `env` (+ PORT and ISSUER for `port`, a free one unless given) and
 * resolves when /readyz answers 200. Rejects with the process's output if it exits first or is
 * not ready within `readyTimeoutMs`.
 */
export async function spawnServer(
  env: Record<string, string>,
  port?: number,
  readyTimeoutMs = 90_000,
): Promise<ServerProcess> {
  return onFreePort(
    port,
    (p) => spawnOnPort(env, p, readyTimeoutMs),
    (err) => err instanceof PortTaken,
  );
}

class PortTaken extends Error {}

async function spawnOnPort(env: Record<string, string>, p: number, readyTimeoutMs: number): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${p}`;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (INHERITED.test(k) && v !== undefined) childEnv[k] = v;
  Object.assign(childEnv, { PORT: String(p), ISSUER: url }, env);
  const child: ChildProcess = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'src/main.ts'], {
    cwd: PROJECT_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  const until = Date.now() + readyTimeoutMs;
  for (;;) {
    if (gone) {
      const output = `server exited before it was ready (code ${child.exitCode}):\n${stderr}\n${stdout}`;
      throw new (/EADDRINUSE/.test(output) ? PortTaken : Error)(output.slice(0, 4000));
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`server not ready within ${readyTimeoutMs} ms:\n${stderr}\n${stdout}`.slice(0, 4000));
    }
    await sleep(50);
  }

  return {
    port: p,
    url,
    pid: child.pid!,
    alive: () => !gone,
    async kill(signal) {
      if (gone) return;
      child.kill(signal);
      await exited;
    },
    stdout: () => stdout,
    errors() {
      const fromLog = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .filter((l) => {
          try {
            return (JSON.parse(l) as { level?: number }).level! >= 50;
          } catch {
            return false;
          }
        });
      const fromStderr = stderr.split('\n').filter((l) => l.trim() && !/oidc-provider WARNING/.test(l));
      return [...fromLog, ...fromStderr];
    },
  };
}
