/**
 * `npm run bench`: Latchkey against its baselines, side by side, in one run.
 *
 * Every server runs in its own process (peak RSS from /proc/<pid>/status VmHWM, reset before each
 * slice); autocannon drives it from this process over loopback, closed loop, bounded in time.
 * Each comparison is a group measured in mirrored slices (A B C C B A, half the duration each),
 * so a machine that speeds up or slows down during the group weighs on every member alike.
 * bench/README.md explains the table and the targets.
 *
 *   npm run bench [-- --duration 10 --warmup 2 --connections 50 --keys 1000000 --no-profile --quick]
 *   npm run bench -- --only auth,introspection   (groups: auth, introspection, token, login, scaling)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import SQLite from 'better-sqlite3';
import {
  cpuMsOf,
  cpuMsOfTree,
  freePort,
  processTree,
  memoryOf,
  resetPeak,
  ROOT,
  runCommand,
  settle,
  startChild,
  type Child,
} from './lib/proc.ts';
import { percentile, runLoad, type LoadRequest } from './lib/load.ts';
import { basic, MEMORY_RESOURCE_SERVER, MEMORY_SERVICE } from './lib/fixtures.ts';
import { clientCredentialsToken, loginForm, refreshTokenPool } from './lib/flows.ts';
import { formatProfile, summariseProfile, type ProfileSummary } from './lib/profile.ts';
import { diffCounts, startPgCounter, zeroCounts, type PgCounter, type WireCounts } from './lib/pg-wire.ts';
import { benchPostgresUrl, openBenchPostgres, type BackendCpu } from './lib/postgres.ts';
import { SLOW_VCPU, slowSlices, startVcpuProbes, vcpuReport } from './lib/vcpu-probe.ts';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    keys: { type: 'string', default: '1000000' },
    'no-profile': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    /** Comma-separated groups to measure (while working on one path); all when absent. */
    only: { type: 'string' },
    out: { type: 'string', default: path.join(ROOT, 'bench', 'results.json') },
  },
});
const DURATION = Number(flags.duration ?? (flags.quick ? 4 : 10));
const WARMUP = Number(flags.warmup ?? (flags.quick ? 1 : 2));
const CONNECTIONS = Number(flags.connections);
const TOTAL_KEYS = Number(flags.keys);
const SMALL_KEYS = 10_000;
const COLD_KEYS = 50_000;
const PROFILE = !flags['no-profile'];
/**
 * Seconds each missed scenario is profiled: 4 s at 1 ms sampling is thousands of samples, and on
 * a slow machine, where more targets miss and more scenarios are profiled, 6 s each took the whole
 * run past its 10 minutes (608 s).
 */
const PROFILE_SECONDS = flags.quick ? 3 : 4;
const FORM = 'application/x-www-form-urlencoded';
const HIGH_LIMIT = '1000000000,1000000';
const fmtInt = (n: number) => n.toLocaleString('en-US');

// Everything is bounded: a run that somehow hangs stops itself.
const WATCHDOG_MS = 25 * 60_000;
const children = new Set<Child>();
const killAll = () => {
  for (const c of children) c.proc.kill('SIGKILL');
};
setTimeout(() => {
  process.stderr.write(`bench: still running after ${WATCHDOG_MS / 60_000} minutes; stopping\n`);
  killAll();
  process.exit(2);
}, WATCHDOG_MS).unref();
process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('exit', killAll);

const t0 = Date.now();
/** Seconds since the run started, to 0.1 s. */
const elapsedS = () => Math.round((Date.now() - t0) / 100) / 10;
const log = (msg: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-bench-'));
const smallDb = path.join(tmp, 'small.sqlite');
const largeDb = path.join(tmp, 'large.sqlite');
const profileDir = path.join(tmp, 'profiles');
fs.mkdirSync(profileDir);

// ---------------------------------------------------------------------------------------------
// Scenarios, slices, rows

interface Scenario {
  id: string;
  label: string;
  /** `backend`: the backends-and-instances rows (servers of their own, kept out of the RSS targets). */
  kind: 'baseline' | 'latchkey' | 'scaling' | 'backend';
  /** The serving process (HTTP scenarios). */
  server?: Child;
  /** Built once: a refresh chain or a key rotation keeps its state across slices. */
  request?: LoadRequest;
  expectStatus?: number;
  /** What the probe's body must contain (checked once, before the first slice). */
  check?: (body: string) => boolean;
  /** The raw argon2 process instead of HTTP. */
  argon2?: boolean;
  note?: string;
  /** Warm-up before the first slice per process, when not the run's (the backends rows). */
  warmupS?: number;
  /** Connections of the load, when not the run's (the backends group's half-load control rows). */
  connections?: number;
  /**
   * Processes serving the load (`serve --workers N`). The warm-up lasts N times as long, so each
   * process has served as many warm-up requests as a single process: a worker gets 1/N of the load,
   * and until V8 has compiled the hot paths a request costs several times its steady CPU.
   */
  processes?: number;
  /** On PostgreSQL: the backends serving this server's database, whose CPU counts too. */
  trackDatabase?: () => BackendCpu;
  /** On PostgreSQL: the relay that counts the server's messages to the database. */
  wire?: PgCounter;
}

interface Row {
  id: string;
  kind: Scenario['kind'];
  label: string;
  rps: number;
  p50: number;
  p99: number;
  ok: number;
  bad: number;
  statuses: Record<string, number>;
  /** Peak RSS of the serving process over this scenario's slices, MiB. */
  peakMiB: number | null;
  /**
   * CPU time (all threads) the serving process spent per answered request while the slices ran,
   * µs. Unlike req/s it does not depend on the share of the machine the process got.
   */
  cpuUsPerReq: number | null;
  /** req/s of each slice, in the order they ran (their spread shows the machine's drift). */
  slices: number[];
  /**
   * The server's CPU µs per request in each slice, in the order they ran (a row still warming reads
   * high in its first).
   */
  sliceCpuUs: number[];
  /** On PostgreSQL: the database backends' CPU µs per request in each slice, in the same order. */
  sliceDbCpuUs?: number[];
  /** When each slice's load ran: seconds since the run started, from and to. */
  sliceAt: [number, number][];
  /**
   * What the vCPU probe's fixed batch cost on each vCPU during each slice, CPU ms (lib/vcpu-probe.ts):
   * a vCPU well above its best of the run was slower for everything on it then.
   */
  sliceVcpuMs?: (number | null)[][];
  /**
   * With workers (`serve --workers N`): `cpuUsPerReq` split by process, the primary first, then
   * the workers by pid; each divided by all the answered requests, so they add up to the row's.
   */
  cpuUsPerReqByProcess?: number[];
  /** On PostgreSQL: CPU of the database's backends per answered request, µs. */
  dbCpuUsPerReq?: number;
  /** On PostgreSQL: what the server sent the database per answered request (see lib/pg-wire.ts). */
  wirePerReq?: WireCounts;
  /** On PostgreSQL: the statements per answered request, by the start of their text, most frequent first. */
  statementsPerReq?: Record<string, number>;
  baseline?: string;
  ratio?: number;
  /** The baseline's CPU per request ÷ this row's: the ratio req/s would show on an idle machine. */
  cpuRatio?: number;
  note?: string;
}

interface Acc {
  cpuMs: number;
  /** CPU of each process of the server (primary first, then workers by pid), summed over slices. */
  cpuMsByProcess: number[];
  dbCpuMs: number;
  wire: WireCounts;
  statements: Map<string, number>;
  latencies: Float64Array[];
  seconds: number;
  bad: number;
  statuses: Record<string, number>;
  peakMiB: number | null;
  slices: number[];
  sliceCpuUs: number[];
  sliceDbCpuUs: number[];
  sliceAt: [number, number][];
  warmed: boolean;
}

const rows: Row[] = [];
/** The groups in the order they ran, with their rows (the vCPU report reads their slices' times). */
const measuredGroups: { name: string; ids: string[] }[] = [];
const rowById = (id: string) => rows.find((r) => r.id === id);
let peakResetRefused = false;

/** One request that must succeed before a load is worth running (catches a broken seed early). */
async function probe(
  url: string,
  req: LoadRequest,
  expectStatus = 200,
  check?: (body: string) => boolean,
): Promise<void> {
  const res = await fetch(url + req.path, {
    method: req.method ?? 'GET',
    headers: req.headers ?? {},
    ...(req.body !== undefined ? { body: req.body } : {}),
    redirect: 'manual',
  });
  const body = await res.text();
  if (res.status !== expectStatus || (check && !check(body))) {
    throw new Error(`probe ${req.method ?? 'GET'} ${req.path} answered ${res.status}: ${body.slice(0, 300)}`);
  }
}

async function argon2Slice(seconds: number): Promise<{ latencies: number[]; peakMiB: number; cpuMs: number }> {
  const out = await runCommand(
    ['--import', 'tsx', 'bench/argon2-raw.ts', String(seconds), String(CONNECTIONS), '19456', '2'],
    {
      timeoutMs: (seconds + 90) * 1000,
    },
  );
  return JSON.parse(out) as { latencies: number[]; peakMiB: number; cpuMs: number };
}

async function slice(s: Scenario, acc: Acc, seconds: number): Promise<void> {
  if (s.argon2) {
    const from = elapsedS();
    const r = await argon2Slice(seconds);
    acc.sliceAt.push([from, elapsedS()]);
    acc.latencies.push(Float64Array.from(r.latencies));
    acc.seconds += seconds;
    acc.peakMiB = Math.max(acc.peakMiB ?? 0, r.peakMiB);
    acc.cpuMs += r.cpuMs;
    acc.slices.push(r.latencies.length / seconds);
    if (r.latencies.length) acc.sliceCpuUs.push(Math.round((r.cpuMs * 1000) / r.latencies.length));
    return;
  }
  const server = s.server!;
  const request = s.request!;
  const expectStatus = s.expectStatus ?? 200;
  const connections = s.connections ?? CONNECTIONS;
  if (!acc.warmed) {
    if (s.id !== 'lk-refresh') await probe(server.url, request, expectStatus, s.check);
    const warmup = (s.warmupS ?? WARMUP) * (s.processes ?? 1);
    if (warmup > 0) await runLoad({ url: server.url, request, durationS: warmup, connections, expectStatus });
    acc.warmed = true;
  }
  await settle(server.pid);
  // With workers, each process's peak is reset, and the row shows the largest.
  const processes = processTree(server.pid);
  for (const pid of processes) if (!resetPeak(pid)) peakResetRefused = true;
  const database = s.trackDatabase?.();
  await database?.poll();
  // Backends come and go with the pool's connections: look for them while the load runs.
  const polling = database && setInterval(() => void database.poll(), 250);
  const wireBefore = s.wire?.counts();
  const statementsBefore = s.wire?.statements();
  // The primary, then its workers by pid: the same order in every slice.
  const ordered = [processes[0]!, ...processes.slice(1).sort((a, b) => a - b)];
  const byProcessBefore = ordered.map((pid) => cpuMsOf(pid));
  const cpuBefore = cpuMsOfTree(server.pid);
  const from = elapsedS();
  const res = await runLoad({ url: server.url, request, durationS: seconds, connections, expectStatus });
  acc.sliceAt.push([from, elapsedS()]);
  const cpuAfter = cpuMsOfTree(server.pid);
  if (ordered.length > 1)
    ordered.forEach((pid, i) => {
      const before = byProcessBefore[i];
      const after = cpuMsOf(pid);
      if (before !== null && before !== undefined && after !== null)
        acc.cpuMsByProcess[i] = (acc.cpuMsByProcess[i] ?? 0) + after - before;
    });
  if (polling) clearInterval(polling);
  await database?.poll();
  if (database) {
    const dbMs = database.cpuMs();
    acc.dbCpuMs += dbMs;
    if (res.ok) acc.sliceDbCpuUs.push(Math.round((dbMs * 1000) / res.ok));
  }
  if (wireBefore) {
    const d = diffCounts(wireBefore, s.wire!.counts());
    for (const k of Object.keys(d) as (keyof WireCounts)[]) acc.wire[k] += d[k];
    for (const [text, n] of s.wire!.statements()) {
      const ran = n - (statementsBefore!.get(text) ?? 0);
      if (ran) acc.statements.set(text, (acc.statements.get(text) ?? 0) + ran);
    }
  }
  const peaks = processes.map((pid) => memoryOf(pid)?.peakMiB ?? 0);
  const mem = peaks.some((p) => p > 0) ? { peakMiB: Math.max(...peaks) } : null;
  if (cpuBefore !== null && cpuAfter !== null) {
    const cpuMs = cpuAfter - cpuBefore;
    acc.cpuMs += cpuMs;
    if (res.ok) acc.sliceCpuUs.push(Math.round((cpuMs * 1000) / res.ok));
  }
  acc.latencies.push(res.latencies);
  acc.seconds += res.durationS;
  acc.bad += res.bad;
  for (const [k, v] of Object.entries(res.statuses)) acc.statuses[k] = (acc.statuses[k] ?? 0) + v;
  if (mem) acc.peakMiB = Math.max(acc.peakMiB ?? 0, mem.peakMiB);
  acc.slices.push(res.rps);
  await settle(server.pid);
}

/**
 * Measures a group in mirrored slices: A B C, then C B A, each half the duration (warm-up before
 * a scenario's first slice only). Linear drift of the machine over the group cancels out. With
 * `rounds`, that order `rounds` times over, in slices of duration ÷ (2 × rounds): each scenario is
 * sampled more often, and no server idles long between two of its slices.
 */
async function measureGroup(name: string, scenarios: Scenario[], duration = DURATION, rounds = 1): Promise<void> {
  const seconds = duration / (2 * rounds);
  log(`group ${name}: ${scenarios.map((s) => s.id).join(', ')} (mirrored slices of ${seconds} s, ${rounds}×)`);
  measuredGroups.push({ name, ids: scenarios.map((s) => s.id) });
  const accs = new Map<string, Acc>(
    scenarios.map((s) => [
      s.id,
      {
        cpuMs: 0,
        cpuMsByProcess: [],
        dbCpuMs: 0,
        wire: zeroCounts(),
        statements: new Map(),
        latencies: [],
        seconds: 0,
        bad: 0,
        statuses: {},
        peakMiB: null,
        slices: [],
        sliceCpuUs: [],
        sliceDbCpuUs: [],
        sliceAt: [],
        warmed: false,
      },
    ]),
  );
  const round = [...scenarios, ...[...scenarios].reverse()];
  for (let r = 0; r < rounds; r++) for (const s of round) await slice(s, accs.get(s.id)!, seconds);
  for (const s of scenarios) {
    const acc = accs.get(s.id)!;
    const total = acc.latencies.reduce((a, l) => a + l.length, 0);
    const all = new Float64Array(total);
    let at = 0;
    for (const l of acc.latencies) {
      all.set(l, at);
      at += l.length;
    }
    all.sort();
    const row: Row = {
      id: s.id,
      kind: s.kind,
      label: s.label,
      rps: total / acc.seconds,
      p50: percentile(all, 50),
      p99: percentile(all, 99),
      ok: total,
      bad: acc.bad,
      statuses: acc.statuses,
      peakMiB: acc.peakMiB,
      cpuUsPerReq: total ? Math.round((acc.cpuMs * 1000) / total) : null,
      slices: acc.slices.map((v) => Math.round(v * 10) / 10),
      sliceCpuUs: acc.sliceCpuUs,
      ...(s.trackDatabase ? { sliceDbCpuUs: acc.sliceDbCpuUs } : {}),
      sliceAt: acc.sliceAt,
      ...(acc.cpuMsByProcess.length > 1 && total
        ? { cpuUsPerReqByProcess: acc.cpuMsByProcess.map((ms) => Math.round((ms * 1000) / total)) }
        : {}),
      ...(s.trackDatabase && total ? { dbCpuUsPerReq: Math.round((acc.dbCpuMs * 1000) / total) } : {}),
      ...(s.wire && total ? { wirePerReq: perRequest(acc.wire, total) } : {}),
      ...(s.wire && total ? { statementsPerReq: statementsPerRequest(acc.statements, total) } : {}),
      ...(s.note ? { note: s.note } : {}),
    };
    rows.push(row);
    log(
      `  ${s.label}: ${row.rps.toFixed(row.rps < 100 ? 1 : 0)} req/s (slices ${row.slices.join(' / ')}; ` +
        `server µs/req ${row.sliceCpuUs.join(' / ')}), ` +
        `p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, ` +
        `${row.cpuUsPerReq ?? '?'} µs CPU/req` +
        (row.dbCpuUsPerReq !== undefined ? ` + ${row.dbCpuUsPerReq} µs PostgreSQL` : '') +
        (row.wirePerReq ? `, ${formatWire(row.wirePerReq)}` : '') +
        `, ${row.bad} bad`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

const secretsKey = crypto.randomBytes(32).toString('base64');
const jwtSecret = crypto.randomBytes(32).toString('base64url');

interface Seed {
  userId: string;
  email: string;
  password: string;
  redirectUri: string;
  service: { client_id: string; client_secret: string };
  resourceServer: { client_id: string; client_secret: string };
  web: { client_id: string; client_secret: string };
  apiKey: string;
  jwt: string;
}

/** `database`: a SQLite file, or a `postgres://` URL. */
function latchkeyEnv(port: number, database: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    ISSUER: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.startsWith('postgres://') ? database : `sqlite:${database}`,
    SECRETS_KEY: secretsKey,
    JWT_SECRET: jwtSecret,
    LOG_LEVEL: 'silent',
    // Rate limits stay on; their ceilings are out of the load's reach.
    RATE_LIMIT_API_KEY: HIGH_LIMIT,
    RATE_LIMIT_OAUTH: HIGH_LIMIT,
    RATE_LIMIT_JWT: HIGH_LIMIT,
    RATE_LIMIT_UNAUTHENTICATED: HIGH_LIMIT,
    RATE_LIMIT_TOKEN_ENDPOINT: HIGH_LIMIT,
    // The code flow that makes the refresh-token pool, and the login row, run far above a person's pace.
    RATE_LIMIT_AUTHORIZE: HIGH_LIMIT,
    RATE_LIMIT_LOGIN: HIGH_LIMIT,
    BENCH_PROFILE_DIR: profileDir,
  };
}

/** What `npm start` runs (scripts/bundle-server.mjs makes it); `serve --workers` runs it in each worker. */
const SERVER_BUNDLE = 'dist/server/main.js';

/**
 * How package.json's `start` script runs node: the `NAME=value` words before `node` (the
 * environment) and the `--flags` between `node` and the server's bundle
 * (`A=1 node --x dist/server/main.js` -> { env: { A: '1' }, flags: ['--x'] }).
 */
function startScript(): { env: Record<string, string>; flags: string[] } {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = pkg.scripts['start']!.split(/\s+/);
  const node = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, node).map((w) => w.split('=', 2) as [string, string]));
  return { env, flags: words.slice(node + 1, words.indexOf(SERVER_BUNDLE)).filter((w) => w.startsWith('--')) };
}

/**
 * What `npm start` runs: the compiled server (built once, before the servers start), with the node
 * flags of package.json's start script; with `workers`, `latchkey serve --workers N` instead (the
 * primary and N workers behind one port).
 */
async function startLatchkey(name: string, database: string, workers?: number): Promise<Child> {
  const port = await freePort();
  const start = startScript();
  const c = await startChild({
    name,
    script: workers ? 'dist/cli.js' : SERVER_BUNDLE,
    ...(workers ? { args: ['serve', '--workers', String(workers)] } : {}),
    typescript: false,
    port,
    env: { ...start.env, ...latchkeyEnv(port, database) },
    readyPath: '/healthz',
    nodeArgs: [...start.flags, '--import', './bench/lib/cpu-profiler.mjs'],
    timeoutMs: 90_000,
  });
  children.add(c);
  return c;
}

/** A baseline server from `bench/baselines/`; `opts` adds to its environment and replaces its node flags. */
async function startBaseline(
  name: string,
  script: string,
  readyPath: string,
  opts: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<Child> {
  const c = await startChild({
    name,
    script,
    port: await freePort(),
    env: { NODE_ENV: 'production', BENCH_PROFILE_DIR: profileDir, ...opts.env },
    readyPath,
    nodeArgs: opts.nodeArgs ?? ['--import', './bench/lib/cpu-profiler.mjs'],
    timeoutMs: 90_000,
  });
  children.add(c);
  return c;
}

const BENCH_EMAIL = 'bench-admin@example.com';
const BENCH_PASSWORD = 'bench passphrase 0123';
/** `keys create` for the bench account: a key whose own limits the load never reaches. */
const benchKeyArgs = (name: string) => [
  ...['keys', 'create', '--owner', BENCH_EMAIL, '--name', name, '--scopes', 'read:users'],
  ...['--burst', '1000000', '--hourly', '100000000'],
];
/** An application's credentials from the CLI's `apps create` answer. */
const client = (a: Record<string, unknown>) => ({
  client_id: String(a['client_id']),
  client_secret: String(a['client_secret']),
});
/** Accounts the login row signs in to, in turn (see seedDatabases). */
const LOGIN_ACCOUNTS = 64;
const loginEmail = (i: number) => `bench-login-${i}@example.com`;
const REDIRECT_URI = 'https://bench.example.com/callback';

/** What a command run beside the servers gets: their environment, on `database`. */
const commandEnv = (database: string) => ({ ...latchkeyEnv(0, database), ISSUER: 'http://127.0.0.1' });

/** `latchkey <args>` (bin/latchkey.js) on a database (the small one unless told); its JSON answer. */
async function cli(args: string[], input?: string, database = smallDb): Promise<Record<string, unknown>> {
  const out = await runCommand(['bin/latchkey.js', ...args], {
    env: commandEnv(database),
    ...(input !== undefined ? { input } : {}),
    timeoutMs: 180_000,
  });
  return JSON.parse(out) as Record<string, unknown>;
}

/**
 * Two databases: `small` with 10,000 API keys, and `large`, a copy of it grown to TOTAL_KEYS
 * (COLD_KEYS usable ones, the rest filler), each served by its own Latchkey process. The account,
 * the apps, the first key and the JWT come from the CLI, as an operator would make them.
 */
async function seedDatabases(): Promise<{ seed: Seed; smallKeys: string[]; coldKeys: string[] }> {
  log('seeding with the CLI: users create, apps create (service, resource_server, web), keys create, jwt sign');
  const user = await cli(
    ['users', 'create', '--email', BENCH_EMAIL, '--password-stdin', '--admin'],
    `${BENCH_PASSWORD}\n`,
  );
  const app = (name: string, type: string, extra: string[] = []) =>
    cli(['apps', 'create', '--owner', BENCH_EMAIL, '--name', name, '--type', type, '--scopes', 'read:users', ...extra]);
  const [service, resourceServer, web, key, jwt] = await Promise.all([
    app('Bench service', 'service'),
    app('Bench resource server', 'resource_server'),
    app('Bench web app', 'web', ['--redirect-uri', REDIRECT_URI]),
    cli(benchKeyArgs('bench hot key')),
    cli(['jwt', 'sign', '--sub', String(user['id']), '--scopes', 'read:users']),
  ]);
  const seed: Seed = {
    userId: String(user['id']),
    email: BENCH_EMAIL,
    password: BENCH_PASSWORD,
    redirectUri: REDIRECT_URI,
    service: client(service),
    resourceServer: client(resourceServer),
    web: client(web),
    apiKey: String(key['key']),
    jwt: String(jwt['token']),
  };
  // The login row signs in to these in turn. One account would meet the per-account sign-in
  // throttle (3 attempts a minute, counted before the password is checked) at once: 50 concurrent
  // sign-ins to one account are 47 refusals. Spread over LOGIN_ACCOUNTS, each account sees about
  // one sign-in at a time, and each success starts its counts afresh. One process signs them all up
  // (a CLI per account, 8 at a time, took about a minute of the run; this takes about 5 s).
  const signedUp = await runCommand(
    [
      '--import',
      'tsx',
      'bench/sign-up-accounts.ts',
      ...Array.from({ length: LOGIN_ACCOUNTS }, (_, i) => loginEmail(i)),
    ],
    {
      env: commandEnv(smallDb),
      input: `${BENCH_PASSWORD}\n`,
      timeoutMs: 120_000,
    },
  );
  log(`seeding: ${LOGIN_ACCOUNTS} accounts for the login row: ${signedUp.trim()}`);
  const smallFile = path.join(tmp, 'small-keys.txt');
  const out = await runCommand(
    [
      '--import',
      'tsx',
      'bench/bulk-keys.ts',
      '--db',
      smallDb,
      '--user',
      seed.userId,
      '--real',
      String(SMALL_KEYS - 1),
      '--out',
      smallFile,
    ],
    { timeoutMs: 120_000 },
  );
  log(`seeding: ${fmtInt(SMALL_KEYS - 1)} more API keys inserted directly: ${out.trim()}`);
  const smallKeys = [seed.apiKey, ...fs.readFileSync(smallFile, 'utf8').split('\n').filter(Boolean)];

  fs.copyFileSync(smallDb, largeDb); // bulk-keys checkpointed and truncated the WAL; nothing else has the file open
  const filler = Math.max(0, TOTAL_KEYS - SMALL_KEYS - COLD_KEYS);
  log(
    `seeding: copy grown to ${fmtInt(TOTAL_KEYS)} keys ` +
      `(${fmtInt(COLD_KEYS)} usable + ${fmtInt(filler)} filler) in 1,000-row transactions`,
  );
  const coldFile = path.join(tmp, 'cold-keys.txt');
  const bulk = await runCommand(
    [
      '--import',
      'tsx',
      'bench/bulk-keys.ts',
      '--db',
      largeDb,
      '--user',
      seed.userId,
      '--real',
      String(COLD_KEYS),
      '--filler',
      String(filler),
      '--out',
      coldFile,
    ],
    { timeoutMs: 480_000 },
  );
  log(`seeding: ${bulk.trim()}`);
  return { seed, smallKeys, coldKeys: fs.readFileSync(coldFile, 'utf8').split('\n').filter(Boolean) };
}

const bearer = (token: string): LoadRequest => ({
  path: '/v2/auth/test',
  headers: { authorization: `Bearer ${token}` },
});
const isValid = (method: string) => (b: string) => b.includes('"valid":true') && b.includes(`"method":"${method}"`);

/** Round-robin over `keys`: with more keys than the service's 10,000-entry cache, every lookup misses. */
function rotatingKeys(keys: string[]): LoadRequest {
  let i = 0;
  return {
    path: '/v2/auth/test',
    headers: { authorization: `Bearer ${keys[0]}` },
    setupRequest: (req) => ({
      ...req,
      headers: { ...req.headers, authorization: `Bearer ${keys[i++ % keys.length]}` },
    }),
  };
}

/**
 * Refresh tokens rotate, so each connection runs a chain: every answer's new refresh token goes
 * back into a shared queue and the connection's next request takes one from it. The queue starts
 * with a pool from the real code flow (more tokens than connections), so no token is ever sent
 * twice and nothing waits on the code flow during the measurement.
 */
function refreshChain(client: Seed['web'], pool: string[]): LoadRequest {
  const queue = [...pool];
  return {
    method: 'POST',
    path: '/oauth/token',
    headers: { 'content-type': FORM, authorization: basic(client) },
    body: 'grant_type=refresh_token&refresh_token=none',
    setupRequest: (req) => ({
      ...req,
      body: `grant_type=refresh_token&refresh_token=${queue.shift() ?? 'pool-exhausted'}`,
    }),
    onResponse: (status, body) => {
      if (status !== 200) return;
      try {
        const t = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
        if (t) queue.push(t);
      } catch {
        /* a 200 without JSON would be a bug; the chain just loses a link */
      }
    },
  };
}

const introspectAs = (client: { client_id: string; client_secret: string }, token: string): LoadRequest => ({
  method: 'POST',
  path: '/oauth/introspect',
  headers: { 'content-type': FORM, authorization: basic(client) },
  body: `token=${token}`,
});
const ccRequest = (client: { client_id: string; client_secret: string }): LoadRequest => ({
  method: 'POST',
  path: '/oauth/token',
  headers: { 'content-type': FORM, authorization: basic(client) },
  body: 'grant_type=client_credentials&scope=read%3Ausers',
});
const active = (b: string) => b.includes('"active":true');

const perRequest = (c: WireCounts, n: number): WireCounts =>
  Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Math.round((v / n) * 100) / 100])) as unknown as WireCounts;
/** Statements that ran at least once per 100 requests, per request, most frequent first. */
const statementsPerRequest = (byText: Map<string, number>, n: number): Record<string, number> =>
  Object.fromEntries(
    [...byText]
      .map(([text, count]) => [text, Math.round((count / n) * 100) / 100] as const)
      .filter(([, perReq]) => perReq >= 0.01)
      .sort((a, b) => b[1] - a[1]),
  );
const formatWire = (w: WireCounts) =>
  `${w.roundTrips} round trips (${w.statements} statements, ${w.parses} parsed, ` +
  `${w.transactions} transactions, ${w.checkouts} checkouts)`;

// ---------------------------------------------------------------------------------------------
// Backends and instances: the hot rows on SQLite and PostgreSQL, one process and `serve --workers 2`

/**
 * Seconds per scenario in the backends group: 8 of the full run's 10 (17 scenarios; the whole run
 * stays under 10 minutes). With 2 s slices a row's CPU per request moved 10-20 % from run to run.
 */
const BACKEND_DURATION = Math.max(4, Math.round(DURATION * 0.8));
/**
 * Each kind's rows are measured on their own, in two mirrored rounds (slices of 2 s in a full run).
 * In one mirrored order over all the kinds, a server's two slices of a kind ran minutes apart; a
 * server idle that long costs more per request when the load returns (its heap shrunk and grows
 * again, page faults: 0.1-0.3 a request in a slice soon after the last, 1-2.7 after half a minute
 * idle), and the two instances of a pair did not idle alike. Within a kind, a server idles for
 * some 20 s at most, and each row is sampled four times across the kind's minute.
 */
const BACKEND_ROUNDS = 2;
const BACKEND_KINDS = ['apikey', 'cc', 'introspect'] as const;
/**
 * Warm-up of a backends row, per process. These servers serve nothing before their rows, and until
 * V8 has compiled a path's hot functions a request costs several times its steady CPU: with 1 s,
 * two instances read 1.95-3.02× one (the workers far from steady state); with 3 s, 1.55× at worst.
 */
const BACKEND_WARMUP = 3;

interface BackendServer {
  id: string;
  label: string;
  server: Child;
  workers: number;
  postgres?: { database: string; wire: PgCounter };
  /** Load with this many connections instead of the run's (the control rows below). */
  connections?: number;
  /** Warm-up per process, when not BACKEND_WARMUP. */
  warmupS?: number;
}

/**
 * `serve --workers 2` under the run's connections gives each worker half of them. On PostgreSQL
 * one process's CPU per request depends on how many requests it has in flight (each turn's
 * requests share one round trip for their rate limits, and the process waits, idle, for it), so
 * the same server is also loaded with half the connections: a worker's share, with one process.
 */
const HALF_LOAD = 'postgres-1-half';

/** What a backends row asks: its label, the request, and what a good answer's body holds. */
type BackendRequest = [string, LoadRequest, (body: string) => boolean];

/**
 * The control pair (bench/baselines/koa-postgres.ts): bare Koa writing a row per request, one
 * process and two. Its two ÷ one is what a second process waiting on PostgreSQL costs on this
 * machine whatever the server; Latchkey's PostgreSQL pair is read beside it.
 */
const CONTROL = 'koa-postgres';
/**
 * Without autovacuum: the control's tens of thousands of inserts would have the table vacuumed
 * while the rows after it run, on their CPU; the control's own requests never wait for it.
 */
const CONTROL_TABLE = `create table control_tokens (id text primary key, payload jsonb not null,
  expires_at bigint not null) with (autovacuum_enabled = false)`;
const CONTROL_REQUEST: BackendRequest = [
  'one insert per request',
  {
    method: 'POST',
    path: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  },
  (body) => body.includes('access_token'),
];

/** The control, with the flags and environment of `npm start`, so only the server's code differs. */
function startControl(name: string, database: string, workers: number): Promise<Child> {
  const start = startScript();
  return startBaseline(name, 'bench/baselines/koa-postgres.ts', '/healthz', {
    env: { ...start.env, DATABASE_URL: database, WORKERS: String(workers) },
    nodeArgs: start.flags,
  });
}

/**
 * Copies a SQLite database through SQLite's backup API, so the copy holds what the write-ahead log
 * still does. A copy of the main file alone can miss it: the seeding CLIs run side by side, and
 * when none of them closed last alone, none checkpointed (a run failed with the copy's service
 * unknown, `invalid_client`).
 */
async function copySqliteDatabase(from: string, to: string): Promise<void> {
  const source = new SQLite(from);
  try {
    await source.backup(to);
  } finally {
    source.close();
  }
}

/** What a backend's database gets from the CLI before its servers start: an account, two apps, a key. */
async function seedBackend(database: string) {
  await cli(['users', 'create', '--email', BENCH_EMAIL, '--password-stdin'], `${BENCH_PASSWORD}\n`, database);
  const app = (name: string, type: string) =>
    cli(
      ['apps', 'create', '--owner', BENCH_EMAIL, '--name', name, '--type', type, '--scopes', 'read:users'],
      undefined,
      database,
    );
  const [service, resourceServer, key] = await Promise.all([
    app('Bench service', 'service'),
    app('Bench resource server', 'resource_server'),
    cli(benchKeyArgs('bench key'), undefined, database),
  ]);
  return { service: client(service), resourceServer: client(resourceServer), apiKey: String(key['key']) };
}

/**
 * The same rows (API key on /v2/auth/test, client_credentials, introspection of an opaque token) on
 * SQLite and PostgreSQL, each with one process and with `serve --workers 2`. Each configuration has
 * a database of its own (a copy of one seeded through the CLI). On PostgreSQL the server reaches the
 * database through a counting relay, and the CPU of the backends serving it is read from /proc.
 * Beside the client_credentials rows, the control pair (CONTROL) runs the same way on PostgreSQL.
 */
async function measureBackends(): Promise<void> {
  const pgUrl = benchPostgresUrl();
  if (!pgUrl) log('backends: no BENCH_POSTGRES_URL or TEST_POSTGRES_URL; PostgreSQL rows skipped (SQLite only)');
  const sqliteDb = path.join(tmp, 'backends.sqlite');
  const postgres = pgUrl ? await openBenchPostgres(pgUrl) : null;
  const servers: BackendServer[] = [];
  const controls: BackendServer[] = [];
  try {
    log(`backends: seeding SQLite${postgres ? ' and PostgreSQL' : ''} with the CLI`);
    const pgSeeded = postgres ? await postgres.createDatabase() : null;
    const [seed, pgSeed] = await Promise.all([seedBackend(sqliteDb), pgSeeded ? seedBackend(pgSeeded.url) : null]);
    await copySqliteDatabase(sqliteDb, `${sqliteDb}-2`);
    servers.push(
      { id: 'sqlite-1', label: 'SQLite ×1', server: await startLatchkey('sqlite-1', sqliteDb), workers: 1 },
      { id: 'sqlite-2', label: 'SQLite ×2', server: await startLatchkey('sqlite-2', `${sqliteDb}-2`, 2), workers: 2 },
    );
    if (postgres && pgSeeded && pgSeed) {
      const upstream = new URL(pgUrl!);
      /** A database for one server, reached through a relay of its own that counts its messages. */
      const relayed = async (db: { name: string; url: string }) => {
        const wire = await startPgCounter({ host: upstream.hostname, port: Number(upstream.port || 5432) });
        const viaRelay = new URL(db.url);
        viaRelay.host = `127.0.0.1:${wire.port}`;
        return { url: viaRelay.toString(), postgres: { database: db.name, wire } };
      };
      for (const workers of [1, 2]) {
        const { url, postgres: counted } = await relayed(await postgres.createDatabase(pgSeeded.name));
        const id = `postgres-${workers}`;
        servers.push({
          id,
          label: `PostgreSQL ×${workers}`,
          server: await startLatchkey(id, url, workers > 1 ? workers : undefined),
          workers,
          postgres: counted,
        });
      }
      for (const workers of [1, 2]) {
        const db = await postgres.createDatabase();
        await postgres.run(db.name, CONTROL_TABLE);
        const { url, postgres: counted } = await relayed(db);
        const id = `${CONTROL}-${workers}`;
        controls.push({
          id,
          label: `Koa + PostgreSQL ×${workers}`,
          server: await startControl(id, url, workers),
          workers,
          postgres: counted,
        });
      }
      const one = servers.find((b) => b.id === 'postgres-1')!;
      servers.splice(servers.indexOf(one) + 1, 0, {
        ...one,
        id: HALF_LOAD,
        label: `PostgreSQL ×1, ${Math.ceil(CONNECTIONS / 2)} connections`,
        connections: Math.ceil(CONNECTIONS / 2),
        // Its server has just been warmed on the same kind, and measured, by the row before it.
        warmupS: 0,
      });
      await runBackendGroup(servers, controls, seed, pgSeed, postgres.trackBackends);
    } else await runBackendGroup(servers, [], seed, null, null);
  } finally {
    const distinct = [...servers.filter((b) => b.id !== HALF_LOAD), ...controls];
    await Promise.all(distinct.map((b) => b.server.stop()));
    for (const b of distinct) children.delete(b.server);
    await Promise.all(distinct.map((b) => b.postgres?.wire.close()));
    await postgres?.close();
  }
}

async function runBackendGroup(
  servers: BackendServer[],
  controls: BackendServer[],
  sqliteSeed: Awaited<ReturnType<typeof seedBackend>>,
  pgSeed: Awaited<ReturnType<typeof seedBackend>> | null,
  track: ((database: string) => BackendCpu) | null,
): Promise<void> {
  const configurations: { b: BackendServer; requests: Record<(typeof BACKEND_KINDS)[number], BackendRequest> }[] = [];
  for (const b of servers) {
    const seed = b.postgres ? pgSeed! : sqliteSeed;
    const token = await clientCredentialsToken(b.server.url, seed.service);
    configurations.push({
      b,
      requests: {
        apikey: ['/v2/auth/test, API key', bearer(seed.apiKey), isValid('api_key')],
        cc: ['/oauth/token client_credentials', ccRequest(seed.service), (body) => body.includes('access_token')],
        introspect: ['/oauth/introspect, opaque token', introspectAs(seed.resourceServer, token), active],
      },
    });
  }
  // Kind by kind, then configuration: the rows a ratio compares run next to each other in every
  // half-round, so whatever else the machine does meanwhile weighs on them alike.
  const scenarioOf = (kind: string, b: BackendServer, [what, request, check]: BackendRequest): Scenario => ({
    id: `backend-${kind}-${b.id}`,
    label: `${b.label}: ${what}`,
    kind: 'backend',
    server: b.server,
    warmupS: b.warmupS ?? BACKEND_WARMUP,
    request,
    check,
    ...(b.connections ? { connections: b.connections } : {}),
    processes: b.workers,
    ...(b.postgres && track ? { trackDatabase: () => track(b.postgres!.database), wire: b.postgres.wire } : {}),
  });
  for (const kind of BACKEND_KINDS) {
    const scenarios = configurations.map(({ b, requests }) => scenarioOf(kind, b, requests[kind]));
    // The control writes a row per request, as client_credentials does: its rows sit beside those.
    if (kind === 'cc') scenarios.push(...controls.map((b) => scenarioOf(kind, b, CONTROL_REQUEST)));
    await measureGroup(`backends and instances, ${kind}`, scenarios, BACKEND_DURATION, BACKEND_ROUNDS);
  }
}

/** Server (all its processes) plus database CPU per request of a backends row; null when not measured. */
function backendCpu(kind: string, config: string): number | null {
  const r = rowById(`backend-${kind}-${config}`);
  if (!r || r.cpuUsPerReq === null) return null;
  return r.cpuUsPerReq + (r.dbCpuUsPerReq ?? 0);
}

/**
 * Configuration a ÷ configuration b of one kind, server + database CPU per request, slice by slice:
 * the median of the ratios of their slices in the same half-round (a few seconds apart, in the
 * same state of the machine). One slice can read up to twice its neighbours, the same server under
 * the same load (a server back from an idle spell; whatever the host of this virtual machine does,
 * which its steal time, 0, does not show), and the ratio of the rows' sums goes with it. The median
 * of four pairs leaves such a slice out. Null when either row is missing.
 */
function pairedRatio(kind: string, a: string, b: string): number | null {
  const perSlice = (config: string) => {
    const r = rowById(`backend-${kind}-${config}`);
    return r?.sliceCpuUs.map((us, i) => us + (r.sliceDbCpuUs?.[i] ?? 0));
  };
  const [as, bs] = [perSlice(a), perSlice(b)];
  if (!as || !bs || as.length === 0 || as.length !== bs.length) return null;
  const ratios = as.map((x, i) => x / bs[i]!).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
}

/** The configurations the backends targets compare: PostgreSQL with SQLite, and two instances with one. */
const POSTGRES_VS_SQLITE: [string, string][] = [['postgres-1', 'sqlite-1']];
const TWO_VS_ONE: [string, string][] = [
  ['sqlite-2', 'sqlite-1'],
  ['postgres-2', 'postgres-1'],
];

/** The largest paired ratio a ÷ b over the backends rows' kinds (pairs with a missing row are left out). */
function worstBackendRatio(pairs: [string, string][]): number | null {
  let worst: number | null = null;
  for (const kind of BACKEND_KINDS)
    for (const [a, b] of pairs) {
      const r = pairedRatio(kind, a, b);
      if (r !== null) worst = Math.max(worst ?? 0, r);
    }
  return worst;
}

/** Lines under the table: each backends row's server + database CPU, and what it sent PostgreSQL. */
function backendSummary(): string[] {
  if (!rows.some((r) => r.kind === 'backend')) return [];
  const out = ['', 'Backends and instances, CPU per request (server, all its processes + PostgreSQL backends):'];
  for (const kind of BACKEND_KINDS) {
    const base = backendCpu(kind, 'sqlite-1');
    const cells = ['sqlite-1', 'sqlite-2', 'postgres-1', HALF_LOAD, 'postgres-2'].map((config) => {
      const r = rowById(`backend-${kind}-${config}`);
      const total = backendCpu(kind, config);
      if (!r || total === null) return `${config} —`;
      const split = r.dbCpuUsPerReq !== undefined ? ` (${r.cpuUsPerReq} + ${r.dbCpuUsPerReq})` : '';
      return `${config} ${total} µs${split}${base ? ` ${(total / base).toFixed(2)}×` : ''}`;
    });
    out.push(`  ${kind.padEnd(10)} ${cells.join('; ')}`);
  }
  // Where a two-worker server's CPU goes, and what one process costs at a worker's share of the load.
  for (const backend of ['sqlite', 'postgres']) {
    const cells = BACKEND_KINDS.map((kind) => {
      const split = rowById(`backend-${kind}-${backend}-2`)?.cpuUsPerReqByProcess;
      return split ? `${kind} ${split[0]} + ${split.slice(1).join(' + ')}` : null;
    }).filter((c) => c !== null);
    if (cells.length) out.push(`  ${backend}-2 by process (primary + workers), µs: ${cells.join('; ')}`);
  }
  const halves = BACKEND_KINDS.map((kind) => {
    const two = backendCpu(kind, 'postgres-2');
    const half = backendCpu(kind, HALF_LOAD);
    return two !== null && half ? `${kind} ${(two / half).toFixed(2)}×` : null;
  }).filter((c) => c !== null);
  if (halves.length) out.push(`  postgres-2 ÷ ${HALF_LOAD} (the same connections per process): ${halves.join('; ')}`);
  // The ratios the targets read: slice by slice, the median of the pairs (pairedRatio).
  const pairs: [string, string, string][] = [
    ['sqlite-2', 'sqlite-1', 'sqlite ×2 ÷ ×1'],
    ['postgres-2', 'postgres-1', 'postgres ×2 ÷ ×1'],
    ['postgres-1', 'sqlite-1', 'postgres ÷ sqlite'],
  ];
  for (const kind of BACKEND_KINDS) {
    const cells = pairs.map(([a, b, what]) => {
      const r = pairedRatio(kind, a, b);
      return r === null ? null : `${what} ${r.toFixed(2)}×`;
    });
    if (cells.some((c) => c !== null))
      out.push(`  ${kind.padEnd(10)} paired slices (median): ${cells.filter((c) => c !== null).join('; ')}`);
  }
  const [one, two] = [backendCpu('cc', `${CONTROL}-1`), backendCpu('cc', `${CONTROL}-2`)];
  const control = pairedRatio('cc', `${CONTROL}-2`, `${CONTROL}-1`);
  const latchkeyPair = pairedRatio('cc', 'postgres-2', 'postgres-1');
  if (one && two && control) {
    out.push(
      `  control, Koa + PostgreSQL (one insert per request): ×1 ${one} µs, ×2 ${two} µs, ` +
        `two ÷ one ${control.toFixed(2)}× (paired)` +
        (latchkeyPair
          ? `; Latchkey's cc pair ${latchkeyPair.toFixed(2)}×, ${(latchkeyPair / control).toFixed(2)}× the control's`
          : ''),
    );
  }
  const wired = rows.filter((r) => r.wirePerReq);
  if (wired.length) {
    out.push('', 'PostgreSQL messages per request (counted on the wire, bench/lib/pg-wire.ts):');
    for (const r of wired) {
      out.push(`  ${r.label}: ${formatWire(r.wirePerReq!)}`);
      for (const [text, perReq] of Object.entries(r.statementsPerReq ?? {}).slice(0, 6))
        out.push(`    ${perReq.toFixed(2)}  ${text}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Targets

interface Target {
  id: string;
  what: string;
  value: number | null;
  unit: '×' | 'ms' | 'MiB' | 'µs';
  limit: string;
  holds: boolean | null;
  /** Scenario ids to profile when the target is missed. */
  scenarios: string[];
  /** With the vCPU probe: of the slices of the rows the value reads, how many ran on a slow vCPU. */
  slowSlices?: { slow: number; of: number };
}

/**
 * The rows each target's value reads (the vCPU report counts their slow slices). Targets not
 * listed read no row measured in slices (the audit pages) or every row (peak RSS).
 */
function rowsOfTarget(id: string): string[] {
  const backends = (pairs: [string, string][]) =>
    BACKEND_KINDS.flatMap((kind) => pairs.flat().map((config) => `backend-${kind}-${config}`));
  const byTarget: Record<string, string[]> = {
    'apikey-vs-koa': ['lk-apikey', 'koa'],
    'oauth-vs-koa': ['lk-oauth', 'koa'],
    'jwt-vs-koa': ['lk-jwt', 'koa'],
    'auth-p99': ['lk-apikey', 'lk-oauth', 'lk-jwt'],
    'introspect-opaque': ['lk-introspect-opaque', 'oidc-memory-introspect'],
    'introspect-apikey': ['lk-introspect-apikey', 'oidc-memory-introspect'],
    cc: ['lk-cc', 'oidc-memory-cc'],
    login: ['lk-login', 'argon2-raw'],
    'scale-miss': ['scale-cold-large'],
    'scale-1m': ['scale-spread-large', 'scale-spread-small'],
    'scale-1m-hot': ['scale-hot-large', 'scale-hot-small'],
    'postgres-vs-sqlite': backends(POSTGRES_VS_SQLITE),
    'instances-flat': backends(TWO_VS_ONE),
  };
  return byTarget[id] ?? [];
}

function ratio(row: string, base: string): number | null {
  const r = rowById(row);
  const b = rowById(base);
  if (!r || !b || b.rps <= 0) return null;
  return r.rps / b.rps;
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  log(
    `temp folder ${tmp}; ${DURATION} s per scenario (two mirrored slices) ` +
      `after ${WARMUP} s warm-up, ${CONNECTIONS} connections`,
  );
  const probes = startVcpuProbes();
  if ('unavailable' in probes) log(`no vCPU probe: ${probes.unavailable}`);
  else process.on('exit', probes.stop);
  const { seed, smallKeys, coldKeys } = await seedDatabases();

  log('building dist/ and the server bundle (npm run build), as npm start does');
  await runCommand(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { timeoutMs: 300_000 });
  await runCommand(['scripts/bundle-server.mjs'], { timeoutMs: 300_000 });
  log('starting servers: bare Koa, oidc-provider (memory), Latchkey on each database');
  const [koa, oidc, lk, lkLarge] = await Promise.all([
    startBaseline('koa', 'bench/baselines/koa.ts', '/healthz'),
    startBaseline('oidc-memory', 'bench/baselines/oidc-memory.ts', '/.well-known/openid-configuration'),
    startLatchkey('latchkey', smallDb),
    startLatchkey('latchkey-large', largeDb),
  ]);
  log(`Latchkey pid ${lk.pid} (${fmtInt(SMALL_KEYS)} keys), pid ${lkLarge.pid} (${fmtInt(TOTAL_KEYS)} keys)`);
  await Promise.all([koa, oidc, lk, lkLarge].map((c) => settle(c.pid)));
  const idleRss = Object.fromEntries([koa, oidc, lk, lkLarge].map((c) => [c.name, memoryOf(c.pid)?.rssMiB ?? null]));
  log(
    `RSS at rest, MiB: ${Object.entries(idleRss)
      .map(([k, v]) => `${k} ${v?.toFixed(0)}`)
      .join(', ')}`,
  );

  // Credentials the loads present.
  const ccToken = await clientCredentialsToken(lk.url, seed.service);
  const memoryToken = await clientCredentialsToken(oidc.url, MEMORY_SERVICE);
  // Each stopped load abandons up to one token per connection (sent, rotated, answer never read):
  // the pool covers the warm-up and both slices.
  const poolSize = CONNECTIONS * 4 + 20;
  const newPool = () =>
    refreshTokenPool(lk.url, {
      client: seed.web,
      redirectUri: seed.redirectUri,
      email: seed.email,
      password: seed.password,
      n: poolSize,
    });
  log(`code flow: ${poolSize} refresh tokens`);
  const refreshPool = await newPool();
  const login = await loginForm(lk.url);
  const loginBodyOf = (email: string) =>
    new URLSearchParams({ _csrf: login.csrf, email, password: seed.password }).toString();
  let nextLogin = 0;

  const S: Record<string, Scenario> = {
    koa: { id: 'koa', label: 'bare Koa JSON', kind: 'baseline', server: koa, request: { path: '/' } },
    'lk-apikey': {
      id: 'lk-apikey',
      label: 'Latchkey /v2/auth/test, API key',
      kind: 'latchkey',
      server: lk,
      request: bearer(seed.apiKey),
      check: isValid('api_key'),
    },
    'lk-oauth': {
      id: 'lk-oauth',
      label: 'Latchkey /v2/auth/test, OAuth token',
      kind: 'latchkey',
      server: lk,
      request: bearer(ccToken),
      check: isValid('oauth'),
      note: 'opaque client_credentials token of a service app',
    },
    'lk-jwt': {
      id: 'lk-jwt',
      label: 'Latchkey /v2/auth/test, JWT',
      kind: 'latchkey',
      server: lk,
      request: bearer(seed.jwt),
      check: isValid('jwt'),
      note: 'HS256; sub is the account, which is checked to exist',
    },
    'oidc-memory-introspect': {
      id: 'oidc-memory-introspect',
      label: 'oidc-provider memory: introspection',
      kind: 'baseline',
      server: oidc,
      request: introspectAs(MEMORY_RESOURCE_SERVER, memoryToken),
      check: active,
    },
    'lk-introspect-opaque': {
      id: 'lk-introspect-opaque',
      label: 'Latchkey /oauth/introspect, opaque token',
      kind: 'latchkey',
      server: lk,
      request: introspectAs(seed.resourceServer, ccToken),
      check: active,
      note: 'by a resource_server app',
    },
    'lk-introspect-apikey': {
      id: 'lk-introspect-apikey',
      label: 'Latchkey /oauth/introspect, API key',
      kind: 'latchkey',
      server: lk,
      request: introspectAs(seed.resourceServer, seed.apiKey),
      check: active,
      note: 'by a resource_server app',
    },
    'oidc-memory-cc': {
      id: 'oidc-memory-cc',
      label: 'oidc-provider memory: client_credentials',
      kind: 'baseline',
      server: oidc,
      request: ccRequest(MEMORY_SERVICE),
      check: (b) => b.includes('access_token'),
    },
    'lk-cc': {
      id: 'lk-cc',
      label: 'Latchkey /oauth/token client_credentials',
      kind: 'latchkey',
      server: lk,
      request: ccRequest(seed.service),
      check: (b) => b.includes('access_token'),
    },
    'lk-refresh': {
      id: 'lk-refresh',
      label: 'Latchkey /oauth/token refresh_token',
      kind: 'latchkey',
      server: lk,
      request: refreshChain(seed.web, refreshPool),
      note:
        'rotating; each connection chains the token each answer returns, ' +
        `seeded with ${poolSize} tokens from the code flow`,
    },
    'argon2-raw': {
      id: 'argon2-raw',
      label: 'raw argon2id verify (m=19456,t=2,p=1)',
      kind: 'baseline',
      argon2: true,
      note: `own process, ${CONNECTIONS} verifies in flight on libuv's default pool (4 threads)`,
    },
    'lk-login': {
      id: 'lk-login',
      label: 'Latchkey POST /login (argon2id)',
      kind: 'latchkey',
      server: lk,
      expectStatus: 303,
      request: {
        method: 'POST',
        path: '/login?return_to=%2Fdashboard',
        headers: { 'content-type': FORM, cookie: login.cookie },
        body: loginBodyOf(loginEmail(0)),
        setupRequest: (req) => ({ ...req, body: loginBodyOf(loginEmail(nextLogin++ % LOGIN_ACCOUNTS)) }),
      },
      note: `correct password: argon2 verify, session row, redirect; ${LOGIN_ACCOUNTS} accounts in turn`,
    },
    'scale-hot-small': {
      id: 'scale-hot-small',
      label: `API key, one key, ${fmtInt(SMALL_KEYS)} keys in DB`,
      kind: 'scaling',
      server: lk,
      request: bearer(seed.apiKey),
      note: 'served from the service cache after the first request',
    },
    'scale-hot-large': {
      id: 'scale-hot-large',
      label: `API key, one key, ${fmtInt(TOTAL_KEYS)} keys in DB`,
      kind: 'scaling',
      server: lkLarge,
      request: bearer(seed.apiKey),
      check: isValid('api_key'),
    },
    'scale-spread-small': {
      id: 'scale-spread-small',
      label: `API key, ${fmtInt(SMALL_KEYS)} keys in turn, ${fmtInt(SMALL_KEYS)} in DB`,
      kind: 'scaling',
      server: lk,
      request: rotatingKeys(smallKeys),
      note: 'the same 10,000 keys in turn on both databases: misses on first use and after the 10 s cache expiry',
    },
    'scale-spread-large': {
      id: 'scale-spread-large',
      label: `API key, ${fmtInt(SMALL_KEYS)} keys in turn, ${fmtInt(TOTAL_KEYS)} in DB`,
      kind: 'scaling',
      server: lkLarge,
      request: rotatingKeys(smallKeys),
    },
    'scale-cold-large': {
      id: 'scale-cold-large',
      label: `API key, ${fmtInt(COLD_KEYS)} keys in turn, ${fmtInt(TOTAL_KEYS)} in DB`,
      kind: 'scaling',
      server: lkLarge,
      request: rotatingKeys(coldKeys),
      note: 'more keys than the 10,000-entry cache holds: every request reads its key from the database',
    },
  };
  const g = (...ids: string[]) => ids.map((id) => S[id]!);
  const only = flags.only ? new Set(flags.only.split(',')) : null;
  const groups: [string, string, Scenario[]][] = [
    ['auth', 'auth/test vs bare Koa', g('koa', 'lk-apikey', 'lk-oauth', 'lk-jwt')],
    [
      'introspection',
      'introspection vs oidc-provider memory',
      g('oidc-memory-introspect', 'lk-introspect-opaque', 'lk-introspect-apikey'),
    ],
    ['token', 'token endpoint vs oidc-provider memory', g('oidc-memory-cc', 'lk-cc', 'lk-refresh')],
    ['login', 'login vs raw argon2', g('argon2-raw', 'lk-login')],
    [
      'scaling',
      'API-key scaling',
      g('scale-hot-small', 'scale-hot-large', 'scale-spread-small', 'scale-spread-large', 'scale-cold-large'),
    ],
  ];
  for (const [key, title, scenarios] of groups) if (!only || only.has(key)) await measureGroup(title, scenarios);
  if (!only || only.has('backends')) await measureBackends();

  const lookup = async (dbFile: string) => {
    const out = JSON.parse(
      await runCommand(
        [
          '--import',
          'tsx',
          'bench/lookup.ts',
          '--db',
          dbFile,
          '--keys',
          path.join(tmp, 'small-keys.txt'),
          '--n',
          flags.quick ? '5000' : '20000',
        ],
        { timeoutMs: 120_000 },
      ),
    ) as { meanUs: number; p50Us: number; p99Us: number; rows: number };
    log(`findForAuth alone on ${fmtInt(out.rows)} rows: p50 ${out.p50Us} µs, mean ${out.meanUs} µs`);
    return out;
  };
  const lookupSmall = await lookup(smallDb);
  const lookupLarge = await lookup(largeDb);
  // The audit log: page 1 vs page 500 of 10,000 events (keyset pagination), on a database of its own.
  const auditPages = JSON.parse(
    await runCommand(
      [
        '--import',
        'tsx',
        'bench/audit-pages.ts',
        '--db',
        path.join(tmp, 'audit.sqlite'),
        '--n',
        flags.quick ? '500' : '2000',
      ],
      { timeoutMs: 120_000 },
    ),
  ) as { events: number; page1Us: number; page500Us: number; account1Us: number; account50Us: number };
  log(`audit page 1 vs page 500 of ${fmtInt(auditPages.events)}: ${auditPages.page1Us} µs, ${auditPages.page500Us} µs`);

  // Ratios against each row's baseline.
  const baselineOf: Record<string, string> = {
    'lk-apikey': 'koa',
    'lk-oauth': 'koa',
    'lk-jwt': 'koa',
    'lk-introspect-opaque': 'oidc-memory-introspect',
    'lk-introspect-apikey': 'oidc-memory-introspect',
    'lk-cc': 'oidc-memory-cc',
    'lk-refresh': 'oidc-memory-cc',
    'lk-login': 'argon2-raw',
    'scale-hot-large': 'scale-hot-small',
    'scale-spread-large': 'scale-spread-small',
    'scale-cold-large': 'scale-spread-small',
  };
  for (const r of rows) {
    const b = baselineOf[r.id];
    const v = b ? ratio(r.id, b) : null;
    if (b && v !== null) {
      r.ratio = v;
      r.baseline = rowById(b)!.label;
      const bc = rowById(b)!.cpuUsPerReq;
      if (bc && r.cpuUsPerReq) r.cpuRatio = bc / r.cpuUsPerReq;
    }
  }

  const authIds = ['lk-apikey', 'lk-oauth', 'lk-jwt'];
  const p99Max = Math.max(...authIds.map((id) => rowById(id)?.p99 ?? Infinity));
  const lkPeak = Math.max(
    ...rows.filter((r) => r.kind !== 'baseline' && r.kind !== 'backend').map((r) => r.peakMiB ?? Infinity),
  );
  // The small server's rows measured after its logins inherit the argon2 memory (RSS does not shrink).
  const afterLogin = new Set(['lk-login', 'scale-hot-small', 'scale-spread-small']);
  const lkPeakWithoutLogin = Math.max(
    ...rows
      .filter((r) => r.kind !== 'baseline' && r.kind !== 'backend' && !afterLogin.has(r.id))
      .map((r) => r.peakMiB ?? Infinity),
  );
  const inverse = (v: number | null) => (v === null ? null : 1 / v);
  // The memory goal is set in MiB, the unit /proc reports RSS in.
  const MIB150 = 150;
  const t = (
    id: string,
    what: string,
    value: number | null,
    unit: Target['unit'],
    limit: string,
    ok: (v: number) => boolean,
    scenarios: string[],
  ): Target => ({
    id,
    what,
    value,
    unit,
    limit,
    holds: value === null || !Number.isFinite(value) ? null : ok(value),
    scenarios,
  });
  const targets: Target[] = [
    t(
      'apikey-vs-koa',
      '/v2/auth/test with an API key ÷ bare Koa',
      ratio('lk-apikey', 'koa'),
      '×',
      '≥ 0.6×',
      (v) => v >= 0.6,
      ['lk-apikey'],
    ),
    t(
      'oauth-vs-koa',
      '/v2/auth/test with an OAuth token ÷ bare Koa',
      ratio('lk-oauth', 'koa'),
      '×',
      '≥ 0.5×',
      (v) => v >= 0.5,
      ['lk-oauth'],
    ),
    t('jwt-vs-koa', '/v2/auth/test with a JWT ÷ bare Koa', ratio('lk-jwt', 'koa'), '×', '≥ 0.5×', (v) => v >= 0.5, [
      'lk-jwt',
    ]),
    t(
      'auth-p99',
      `/v2/auth/test p99 at ${CONNECTIONS} connections (worst of the three)`,
      p99Max,
      'ms',
      '≤ 10 ms',
      (v) => v <= 10,
      authIds.filter((id) => (rowById(id)?.p99 ?? Infinity) > 10),
    ),
    t(
      'introspect-opaque',
      '/oauth/introspect, opaque token ÷ oidc-provider memory',
      ratio('lk-introspect-opaque', 'oidc-memory-introspect'),
      '×',
      '≥ 1.0×',
      (v) => v >= 1.0,
      ['lk-introspect-opaque'],
    ),
    t(
      'introspect-apikey',
      '/oauth/introspect, API key ÷ oidc-provider memory',
      ratio('lk-introspect-apikey', 'oidc-memory-introspect'),
      '×',
      '≥ 2.0×',
      (v) => v >= 2.0,
      ['lk-introspect-apikey'],
    ),
    t(
      'cc',
      'client_credentials ÷ oidc-provider memory',
      ratio('lk-cc', 'oidc-memory-cc'),
      '×',
      '≥ 1.0×',
      (v) => v >= 1.0,
      ['lk-cc'],
    ),
    t('login', 'POST /login ÷ raw argon2 verify', ratio('lk-login', 'argon2-raw'), '×', '≥ 0.85×', (v) => v >= 0.85, [
      'lk-login',
    ]),
    // The key read from the database on every request: what a miss costs in CPU, the rest included.
    t(
      'scale-miss',
      `API key, every request a miss (${fmtInt(COLD_KEYS)} keys in turn, ${fmtInt(TOTAL_KEYS)} in DB), CPU per request`,
      rowById('scale-cold-large')?.cpuUsPerReq ?? null,
      'µs',
      '≤ 150 µs',
      (v) => v <= 150,
      ['scale-cold-large'],
    ),
    t(
      'scale-1m',
      `time per API-key request, ${fmtInt(TOTAL_KEYS)} ÷ ${fmtInt(SMALL_KEYS)} keys (10,000 keys in turn)`,
      inverse(ratio('scale-spread-large', 'scale-spread-small')),
      '×',
      '≤ 1.3×',
      (v) => v <= 1.3,
      ['scale-spread-large'],
    ),
    t(
      'scale-1m-hot',
      `time per API-key request, ${fmtInt(TOTAL_KEYS)} ÷ ${fmtInt(SMALL_KEYS)} keys (one key)`,
      inverse(ratio('scale-hot-large', 'scale-hot-small')),
      '×',
      '≤ 1.3×',
      (v) => v <= 1.3,
      ['scale-hot-large'],
    ),
    t(
      'audit-page-500',
      'audit page 500 ÷ page 1 of 10,000 events (repository query, p50)',
      auditPages.page500Us / auditPages.page1Us,
      '×',
      '≤ 1.3×',
      (v) => v <= 1.3,
      [],
    ),
    t(
      'postgres-vs-sqlite',
      'PostgreSQL ×1 (server + database CPU per request) ÷ SQLite ×1, paired slices, worst of the three kinds',
      worstBackendRatio(POSTGRES_VS_SQLITE),
      '×',
      '≤ 1.5×',
      (v) => v <= 1.5,
      [],
    ),
    t(
      'instances-flat',
      'two instances ÷ one (CPU per request, server + database), paired slices, worst of the rows on both backends',
      worstBackendRatio(TWO_VS_ONE),
      '×',
      '≤ 1.15×',
      (v) => v <= 1.15,
      [],
    ),
    t('rss', 'Latchkey peak RSS, every scenario', lkPeak, 'MiB', '≤ 150 MiB', (v) => v <= MIB150, []),
    t(
      'rss-no-login',
      'Latchkey peak RSS, without logins (every scenario before them, and the 1M-key server)',
      lkPeakWithoutLogin,
      'MiB',
      '≤ 150 MiB',
      (v) => v <= MIB150,
      [],
    ),
  ];

  // Profiles of the misses, on the same server processes, after all measurements (the profiler
  // slows the server; no figure above was taken with it on).
  const profiles: Record<string, ProfileSummary> = {};
  const missed = [...new Set(targets.filter((x) => x.holds === false).flatMap((x) => x.scenarios))];
  // With each missed scenario, its baseline under the same load, for a side-by-side reading.
  const withBaselines = missed.flatMap((id) => {
    const b = baselineOf[id];
    return b && S[b]?.server ? [b, id] : [id];
  });
  const toProfile = [...new Set(withBaselines)];
  if (PROFILE && toProfile.length) {
    const keep = path.join(ROOT, 'bench', 'profiles');
    fs.rmSync(keep, { recursive: true, force: true });
    fs.mkdirSync(keep, { recursive: true });
    for (const id of toProfile) {
      const s = S[id]!;
      const server = s.server!;
      const request = id === 'lk-refresh' ? refreshChain(seed.web, await newPool()) : s.request!;
      const opts = {
        url: server.url,
        request,
        connections: CONNECTIONS,
        ...(s.expectStatus ? { expectStatus: s.expectStatus } : {}),
      };
      log(`profiling ${id}: ${PROFILE_SECONDS} s under the same load`);
      await runLoad({ ...opts, durationS: 1 });
      await settle(server.pid);
      const before = new Set(fs.readdirSync(profileDir));
      server.proc.kill('SIGUSR2');
      const profiled = await runLoad({ ...opts, durationS: PROFILE_SECONDS });
      server.proc.kill('SIGUSR2');
      const deadline = Date.now() + 30_000;
      let file: string | undefined;
      while (!file && Date.now() < deadline) {
        file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
        if (!file) await new Promise((r) => setTimeout(r, 200));
      }
      if (!file) {
        log(`profiling ${id}: no profile was written`);
        continue;
      }
      const dest = path.join(keep, `${id}.cpuprofile`);
      fs.copyFileSync(path.join(profileDir, file), dest);
      profiles[id] = { ...summariseProfile(dest, 15, 1, profiled.ok), file: path.relative(ROOT, dest) };
    }
  }
  await Promise.all([koa, oidc, lk, lkLarge].map((c) => c.stop()));

  // Report.
  const fmt = (v: number | null | undefined, d = 0) =>
    v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d);
  const header = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'ratio',
    'baseline',
    'peak RSS MiB',
    'CPU µs/req',
    'PG CPU µs/req',
    'CPU ratio',
    'bad',
  ];
  const table = rows.map((r) => [
    r.label,
    fmt(r.rps, r.rps < 100 ? 1 : 0),
    fmt(r.p50, r.p50 < 10 ? 2 : 0),
    fmt(r.p99, r.p99 < 10 ? 2 : 0),
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : '',
    r.baseline ?? '',
    fmt(r.peakMiB, 0),
    fmt(r.cpuUsPerReq, 0),
    r.dbCpuUsPerReq !== undefined ? fmt(r.dbCpuUsPerReq, 0) : '',
    r.cpuRatio !== undefined ? `${r.cpuRatio.toFixed(2)}×` : '',
    String(r.bad),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out: string[] = [];
  out.push('', line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.map(line), '');
  out.push(
    'API-key lookup alone (findForAuth through Kysely, p50): ' +
      `${lookupSmall.p50Us} µs at ${fmtInt(lookupSmall.rows)} rows, ` +
      `${lookupLarge.p50Us} µs at ${fmtInt(lookupLarge.rows)} rows ` +
      `(${(lookupLarge.p50Us / lookupSmall.p50Us).toFixed(2)}×)`,
  );
  out.push(
    `Audit log page (${fmtInt(auditPages.events)} events, 20 a page, p50): page 1 ${auditPages.page1Us} µs, ` +
      `page 500 ${auditPages.page500Us} µs; one account's page 1 ${auditPages.account1Us} µs, ` +
      `its page 50 ${auditPages.account50Us} µs`,
  );
  out.push(...backendSummary());
  if (!('unavailable' in probes)) {
    // A row's slices as the probe reads them: sliceAt back in epoch ms.
    const windowsOf = (ids: string[]) =>
      ids.flatMap((id) =>
        (rowById(id)?.sliceAt ?? []).map(([from, to]) => ({ row: id, fromMs: t0 + from * 1000, toMs: t0 + to * 1000 })),
      );
    for (const r of rows)
      r.sliceVcpuMs = windowsOf([r.id]).map((w) =>
        probes.during(w.fromMs, w.toMs).map((ms) => (ms === null ? null : Math.round(ms * 10) / 10)),
      );
    out.push(
      ...vcpuReport(
        probes,
        measuredGroups.map((g) => ({ name: g.name, slices: windowsOf(g.ids) })),
      ),
    );
    for (const x of targets) {
      const slices = windowsOf(rowsOfTarget(x.id));
      if (slices.length) x.slowSlices = { slow: slowSlices(probes, slices).length, of: slices.length };
    }
  }
  out.push('', 'targets:');
  for (const x of targets) {
    const v =
      x.value === null
        ? '—'
        : x.unit === '×'
          ? `${x.value.toFixed(2)}×`
          : `${x.value.toFixed(x.unit === 'ms' ? 2 : 0)} ${x.unit}`;
    const byCpu = x.unit === '×' && x.scenarios.length === 1 ? rowById(x.scenarios[0]!)?.cpuRatio : undefined;
    const cpuNote =
      byCpu === undefined
        ? ''
        : x.id.startsWith('scale')
          ? `; by CPU per request ${(1 / byCpu).toFixed(2)}×`
          : `; by CPU per request ${byCpu.toFixed(2)}×`;
    const slowNote = x.slowSlices?.slow ? `; ${x.slowSlices.slow} of ${x.slowSlices.of} slices on a slow vCPU` : '';
    out.push(
      `  ${x.holds === null ? '  ?  ' : x.holds ? ' hold' : ' MISS'}  ${x.what}: ${v} ` +
        `(target ${x.limit}${cpuNote}${slowNote})`,
    );
  }
  out.push(
    '',
    `RSS at rest after start-up, MiB: ${Object.entries(idleRss)
      .map(([k, v]) => `${k} ${v === null ? '?' : v.toFixed(0)}`)
      .join(', ')}`,
  );
  for (const [id, p] of Object.entries(profiles))
    out.push('', `profile of ${id} (${PROFILE_SECONDS} s under load):`, formatProfile(p));
  if (peakResetRefused)
    out.push('', 'note: the kernel refused to reset VmHWM; peak RSS figures are since each process started');
  const loadAvg = os.loadavg();
  out.push('', `load average at the end: ${loadAvg.map((v) => v.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
  out.push(`total ${((Date.now() - t0) / 1000).toFixed(0)} s; results in ${path.relative(process.cwd(), flags.out)}`);
  process.stdout.write(`${out.join('\n')}\n`);

  const results = {
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      loadAverageAtEnd: loadAvg,
      node: process.version,
      ...('unavailable' in probes ? {} : { vcpuProbe: { bestMs: probes.best(), slowAt: SLOW_VCPU } }),
    },
    settings: {
      durationS: DURATION,
      warmupS: WARMUP,
      connections: CONNECTIONS,
      smallKeys: SMALL_KEYS,
      totalKeys: TOTAL_KEYS,
      coldKeys: COLD_KEYS,
    },
    rows,
    idleRssMiB: idleRss,
    lookup: { small: lookupSmall, large: lookupLarge },
    auditPages,
    targets,
    profiles,
    totalSeconds: (Date.now() - t0) / 1000,
  };
  fs.writeFileSync(flags.out, `${JSON.stringify(results, null, 2)}\n`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    killAll();
    process.exit(1);
  },
);
