import crypto from 'node:crypto';
import fs from 'node:fs';
import { createTestDatabase, testBackend, type TestDatabase } from './database.ts';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

/** A stable secrets key per test folder, so restarts (and the CLI on the same folder) can open sealed secrets. */
function testSecretsKey(dir: string): string {
  const file = path.join(dir, 'test-secrets.key');
  if (!fs.existsSync(file)) fs.writeFileSync(file, crypto.randomBytes(32).toString('base64'), { mode: 0o600 });
  return fs.readFileSync(file, 'utf8');
}

/**
 * The first port the kernel hands out for outgoing connections and `listen(0)`. Test servers take
 * theirs below it, where no client socket of this or another test process can be given it between
 * the moment a port is found free and the moment a server listens on it.
 */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();

/** A loopback port that nothing listens on now, chosen at random below the ephemeral range. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + crypto.randomInt(Math.max(EPHEMERAL_LOW - 10_000, 1_000));
    if (await canListen(port)) return port;
  }
}

/**
 * `start` on `given`, or else on a free port. Another test process may take a free port before the
 * server listens on it: when `taken` says that happened, it tries another (five in all).
 */
export async function onFreePort<T>(
  given: number | undefined,
  start: (port: number) => Promise<T>,
  taken: (err: unknown) => boolean,
): Promise<T> {
  if (given !== undefined) return start(given);
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (!taken(err) || attempt === 5) throw err;
    }
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Limits high enough that only the rate-limit tests (which set their own) ever meet them. */
export const ROOMY_LIMITS = {
  RATE_LIMIT_API_KEY: '1000000,100000',
  RATE_LIMIT_OAUTH: '1000000,100000',
  RATE_LIMIT_JWT: '1000000,100000',
  RATE_LIMIT_UNAUTHENTICATED: '1000000,100000',
  RATE_LIMIT_TOKEN_ENDPOINT: '1000000,100000',
  RATE_LIMIT_APPLICATIONS: '1000000,100000',
  RATE_LIMIT_AUTHORIZE: '1000000,100000',
  RATE_LIMIT_SIGNUP: '1000000,100000',
  RATE_LIMIT_LOGIN: '1000000,100000',
  RATE_LIMIT_PASSWORD_RESET: '1000000,100000',
  RATE_LIMIT_DEVICE_CODE: '1000000,100000',

  RATE_LIMIT_REGISTRATION: '1000000,100000',
};

export interface TestServer extends RunningServer {
  config: Config;
  dir: string;
  /** Its database: pass it as `database` to start another server on the same one. */
  database: TestDatabase;
  /** The server's clock (the `now` it was started with, or the real one). */
  now: () => number;
  /** Stops this server and starts a new one on the same database file and port. */
  restart(): Promise<TestServer>;
  /** Stops the server and deletes its folder. */
  dispose(): Promise<void>;
}

/**
 * A real-time clock that can be moved to just after the next minute begins. Counts kept in memory
 * use windows aligned to the clock minute; a test whose burst must land in one window calls
 * `startOfMinute()` first (the clock only ever moves forward).
 */
export function minuteAlignedClock(): { now: () => number; startOfMinute(): void } {
  let skew = 0;
  const now = () => Date.now() + skew;
  return {
    now,
    startOfMinute() {
      skew += (Math.floor(now() / 60_000) + 1) * 60_000 + 500 - now();
    },
  };
}

/** How `startTestServer` starts its server. */
export interface TestServerOptions {
  env?: Record<string, string>;
  now?: () => number;
  dir?: string;
  port?: number;
  webhookPollMs?: number;
  /** How often the email worker polls; tests that drive it with tick() pass an hour. */
  emailPollMs?: number;
  database?: TestDatabase;
  /** Count rate limits in the shared store (PostgreSQL) rather than in memory on the test's clock. */
  sharedRateLimits?: boolean;
  /** Where the server's JSON log lines go (tests that read them; set LOG_LEVEL in `env` too). */
  logDestination?: { write(line: string): unknown };
}

/**
 * The real server on a real SQLite file in a fresh temp folder, on a free loopback port.
 * Pass `env` for settings and `now` for a controllable clock.
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-test-'));
  const database = opts.database ?? (await createTestDatabase(dir));
  return onFreePort(
    opts.port,
    (port) => startOnPort(opts, dir, database, port),
    (err) => (err as NodeJS.ErrnoException).code === 'EADDRINUSE',
  );
}

async function startOnPort(
  opts: TestServerOptions,
  dir: string,
  database: TestDatabase,
  port: number,
): Promise<TestServer> {
  const config = loadConfig({
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.url,
    // On PostgreSQL there is no database file to keep a generated key beside: give one.
    ...(testBackend === 'postgres' ? { SECRETS_KEY: testSecretsKey(dir) } : {}),
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'silent',
    // Suites fire many requests from one address in a burst; the rate-limit tests set their own.
    ...ROOMY_LIMITS,
    ...opts.env,
  });
  const running = await startServer(config, createLogger(config.LOG_LEVEL, opts.logDestination), {
    // Every API answer in every test is checked against the schema the OpenAPI document shows.
    validateResponses: true,
    rateLimits: opts.sharedRateLimits ? 'shared' : 'memory',
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.webhookPollMs ? { webhookPollMs: opts.webhookPollMs } : {}),
    ...(opts.emailPollMs ? { emailPollMs: opts.emailPollMs } : {}),
  });
  const server: TestServer = {
    ...running,
    config,
    dir,
    database,
    now: opts.now ?? Date.now,
    async restart() {
      await running.close();
      // Let this process's HTTP client see the old server's closed keep-alive sockets (an I/O turn
      // of the event loop) before the new server starts; otherwise fetch may reuse one and fail
      // with "other side closed".
      await new Promise((resolve) => setTimeout(resolve, 10));
      return startTestServer({ ...opts, dir, port, database });
    },
    async dispose() {
      await running.close();
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
