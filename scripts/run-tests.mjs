#!/usr/bin/env node
// Runs *.test.ts files with node's test runner and tsx. Node 20's runner does not expand globs
// itself, so the files are collected here.
//
//   node scripts/run-tests.mjs            `npm test`, everything CI runs: every test under src/, test/
//                                         and packages/ on SQLite, then the PostgreSQL tier (below) when
//                                         TEST_POSTGRES_URL is set, then the browser tests (e2e/) on
//                                         SQLite; exits non-zero when any run fails.
//   node scripts/run-tests.mjs --fast     `npm run test:fast`: the fast tier (below), on SQLite.
//   node scripts/run-tests.mjs --postgres `npm run test:postgres`: the PostgreSQL tier alone.
//   ... --list                            prints the files a run would test, and runs none.
//   node scripts/run-tests.mjs src [...]  one run over the given folders or files, on the backend
//                                         the environment selects (TEST_DATABASE=postgres with
//                                         TEST_POSTGRES_URL, otherwise SQLite).
//
// The fast tier: unit and in-process tests, the ones that start no server and no process. A test
// file is in it unless it imports, directly or through helpers under test/, one of SERVER_FIXTURES
// (the real server over HTTP, or a child process). Write a rule's test without them (pure
// functions, a fake clock `() => t`, a real database at most) and it runs in the fast tier.
//
// The PostgreSQL tier runs what depends on the backend, not every HTTP test again: the storage
// contract suites, the multi-instance tests, and the files in POSTGRES_PLAN, each with its reason.
//
// Every run prints which backend it is on, then the test runner's own output unchanged. After a
// matrix, a per-run table and the totals follow, in the runner's own summary format. A test file
// that runs past FILE_TIMEOUT_MS is stopped, and run once more (see runOnceMoreAfterTimeouts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function collect(roots) {
  const files = [];
  const walk = (entry) => {
    if (!fs.existsSync(entry)) return;
    if (fs.statSync(entry).isFile()) {
      if (entry.endsWith('.test.ts')) files.push(entry);
      return;
    }
    for (const child of fs.readdirSync(entry, { withFileTypes: true })) {
      if (child.name === 'node_modules') continue;
      const full = path.join(entry, child.name);
      if (child.isDirectory()) walk(full);
      else if (child.isFile() && child.name.endsWith('.test.ts')) files.push(full);
    }
  };
  roots.forEach(walk);
  return [...new Set(files)].sort();
}

const BACKEND_NAMES = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** What makes a test file slow: importing one of these means it starts a server or a process. */
const SERVER_FIXTURES = [
  'test/support/server.ts', // the real server over HTTP (TestWorld and the security matrix use it)
  'test/support/process.ts', // the CLI, `npm start`, any node child process
  'test/support/private-postgres.ts', // a PostgreSQL instance of the test's own
  'test/reliability/server-process.ts', // a server in a child process, to kill
];

/** Every test of the PostgreSQL tier: a folder or a file, and why the backend matters to it. */
const POSTGRES_PLAN = [
  ['test/storage', 'the storage contract suites, one per repository'],
  ['test/scale', 'several instances on one database: LISTEN/NOTIFY relay, shared rate-limit store'],
  ['test/reliability/postgres-restart.test.ts', 'the database restarts under a running server'],
  ['test/reliability/concurrency.test.ts', 'concurrent writers: races resolve in PostgreSQL transactions'],
  ['test/reliability/secrets-at-rest.test.ts', 'no secret in any row of any table, read as text'],
  ['test/fuzz/regressions.test.ts', 'NUL characters in text: PostgreSQL refused them with a 500'],
  ['src/db/client.test.ts', 'the db client: dialect, pool, an unreachable database'],
  ['src/oidc/adapter.test.ts', "oidc-provider's adapter: payload rows, consumption, expiry in SQL"],
  ['src/oidc/persistence.test.ts', 'tokens and consent survive a restart; the rows at rest'],
  ['src/oidc/time-ordered-ids.test.ts', 'token rows keyed by time and hash; tokens issued before keep theirs'],
  ['src/shared/credential-relay.test.ts', 'credential events relayed between instances through the database'],
  ['src/features/accounts/account-security.attacks.test.ts', 'parallel guesses counted in the shared store'],
  ['src/features/webhooks/webhooks.test.ts', 'the webhook outbox claimed by concurrent workers'],
  ['src/features/users/account-settings.test.ts', 'two accounts racing for one address; deletion in one transaction'],
  ['src/http/health.test.ts', '/readyz when the database is gone'],
  ['test/oidc', 'the Basic and Config OP modules, logout, userinfo and per-application settings, on both backends'],
  ['src/features/accounts/password-reset.test.ts', 'parallel uses of one emailed link: one wins, in a transaction'],
  ['src/cli.test.ts', 'the CLI on the database of a running server (SECRETS_KEY, no key file)'],
  ['src/oidc/device-flow.test.ts', 'device codes found by user code, consumed once, kept past expiry; hashes at rest'],

  ['src/features/registration/registration.test.ts', 'registration: token uses counted in a transaction'],
];

// Tests about the SQLite file itself (kill -9 of a server process on a WAL file, then
// PRAGMA integrity_check) belong to the SQLite run only; the PostgreSQL run leaves them out.
const SQLITE_ONLY = new Set(['test/reliability/crash-safety.test.ts']);
/**
 * Each test file gets this long (the runner's --test-timeout applies per file in the parent); the
 * slowest files take 2–3 minutes on a 2-core machine. A file past it is stopped and reported as timed
 * out, so one hung test costs minutes, not the whole CI budget. scripts/hang-report.mjs prints what
 * the file was waiting on shortly before. TEST_FILE_TIMEOUT_MS overrides it (ms).
 */
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS) || 6 * 60_000;
const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
const ANSI = /\x1b\[[0-9;]*m/g;

const posix = (file) => file.split(path.sep).join('/');

/**
 * True when `file` reaches none of SERVER_FIXTURES through its relative imports (followed into
 * test/ only: the product's own modules never import test fixtures).
 */
function startsNoServer(file, seen = new Set()) {
  const rel = posix(path.relative(process.cwd(), file));
  if (SERVER_FIXTURES.includes(rel)) return false;
  if (seen.has(rel)) return true;
  seen.add(rel);
  const source = fs.readFileSync(file, 'utf8');
  for (const [, spec] of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = path.resolve(path.dirname(file), spec);
    const inTests = posix(path.relative(process.cwd(), target)).startsWith('test/');
    if (inTests && fs.existsSync(target) && !startsNoServer(target, seen)) return false;
  }
  return true;
}

/** One test-runner process over `roots` on `backend`; resolves with its exit status and summary. */
function run({ label, roots, backend, fastOnly = false }) {
  const name = `${label} (${BACKEND_NAMES[backend]})`;
  const files = collect(roots)
    .filter((f) => backend !== 'postgres' || !SQLITE_ONLY.has(posix(f)))
    .filter((f) => !fastOnly || startsNoServer(f));
  const under = roots.length > 3 ? `${roots.length} folders and files` : roots.join(', ');
  const db = BACKEND_NAMES[backend];
  process.stdout.write(`\n=== ${name}: ${files.length} test file(s) under ${under}, database backend: ${db} ===\n`);
  if (listOnly) {
    for (const f of files) console.log(posix(f));
    return Promise.resolve({ name, status: 0, summary: null });
  }
  // A folder another branch brings (test/storage) may not exist yet: say so, and run the rest.
  for (const root of roots.filter((r) => !fs.existsSync(r))) console.log(`(${root}: not present, skipped)`);
  if (files.length === 0) {
    console.error(`no test files under ${roots.join(', ')}`);
    return Promise.resolve({ name, status: 1, summary: null });
  }
  const env = {
    ...process.env,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    LATCHKEY_TEST_FILE_TIMEOUT_MS: String(FILE_TIMEOUT_MS),
  };
  if (backend === 'postgres') env.TEST_DATABASE = 'postgres';
  else delete env.TEST_DATABASE;
  if (process.stdout.isTTY && env.FORCE_COLOR === undefined && env.NO_COLOR === undefined) env.FORCE_COLOR = '1';

  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=development',
        '--import',
        'tsx',
        '--import',
        './scripts/hang-report.mjs',
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=2',
        `--test-timeout=${FILE_TIMEOUT_MS}`,
        ...files,
      ],
      { stdio: ['inherit', 'pipe', 'inherit'], env },
    );
    // Pass the runner's output through untouched, and read its closing summary on the way.
    const summary = {};
    const timedOut = new Set();
    let lastFailed = null;
    let partial = '';
    const scan = (line) => {
      const plain = line.replace(ANSI, '');
      const m = /^ℹ (\w+) ([\d.]+)\s*$/.exec(plain);
      if (m && COUNTERS.includes(m[1])) summary[m[1]] = Number(m[2]);
      // A file past FILE_TIMEOUT_MS: `✖ /abs/file.test.ts (600012ms)`, then `'test timed out after …'`.
      if (lastFailed && plain.includes('test timed out after')) timedOut.add(lastFailed);
      lastFailed = /^✖ (\S+\.test\.ts) \(/.exec(plain)?.[1] ?? null;
    };
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop();
      lines.forEach(scan);
    });
    child.on('error', (err) => {
      console.error(`${name}: could not start the test runner: ${err.message}`);
      resolve({ name, status: 1, summary: null });
    });
    child.on('close', (code, signal) => {
      scan(partial);
      if (signal) console.error(`${name}: the test runner was killed by ${signal}`);
      resolve({
        name,
        status: code ?? 1,
        summary: Object.keys(summary).length ? summary : null,
        timedOut: [...timedOut].map((f) => posix(path.relative(process.cwd(), f))),
      });
    });
  });
}

/**
 * `run`, then once more for the files that timed out, if any. A hang is a defect to find (the hang
 * report says where the file waited); running the file again keeps one rare hang from failing a
 * whole run. The failure of the first try stays in the output, and the rerun is its own line in the
 * table. The step passes only when nothing but timeouts failed and every rerun passes.
 */
async function runOnceMoreAfterTimeouts(step) {
  const first = await run(step);
  if (first.status === 0 || !first.timedOut?.length) return [first];
  console.log(`\n${first.name}: ${first.timedOut.join(', ')} timed out; running them once more`);
  const again = await run({ ...step, label: `${step.label}, timed-out files again`, roots: first.timedOut });
  const onlyTimeouts = (first.summary?.fail ?? 1) === 0;
  if (!onlyTimeouts || again.status !== 0) return [first, again];
  return [{ ...first, status: 0, note: 'passed when its timed-out files ran again' }, again];
}

const selectedBackend = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
const listOnly = process.argv.includes('--list');
const args = process.argv.slice(2).filter((a) => a !== '--list');
const postgresTier = { label: 'backend-dependent', roots: POSTGRES_PLAN.map(([root]) => root), backend: 'postgres' };

if (args[0] === '--fast') {
  const runs = await runOnceMoreAfterTimeouts({
    label: 'fast',
    roots: ['src', 'test'],
    backend: 'sqlite',
    fastOnly: true,
  });
  process.exit(runs.every((r) => r.status === 0) ? 0 : 1);
}
if (args[0] === '--postgres') {
  const runs = await runOnceMoreAfterTimeouts(postgresTier);
  process.exit(runs.every((r) => r.status === 0) ? 0 : 1);
}
if (args.length) {
  // One run, on the backend the environment selects.
  const label = args.join(' ');
  const runs = await runOnceMoreAfterTimeouts({ label, roots: args, backend: selectedBackend });
  process.exit(runs.every((r) => r.status === 0) ? 0 : 1);
}

// The matrix. packages/ holds each workspace package with its own tests (the SDK's).
const plan = [{ label: 'all', roots: ['src', 'test', 'packages'], backend: 'sqlite' }];
if (process.env.TEST_POSTGRES_URL) plan.push(postgresTier);
plan.push({ label: 'e2e', roots: ['e2e'], backend: 'sqlite' });

const results = [];
for (const step of plan) results.push(...(await runOnceMoreAfterTimeouts(step)));

const failed = results.filter((r) => r.status !== 0);
const fmt = (s) =>
  s
    ? `${s.tests ?? '?'} tests, ${s.pass ?? '?'} pass, ${s.fail ?? '?'} fail, ` +
      `${s.cancelled ?? 0} cancelled, ${s.skipped ?? 0} skipped`
    : 'no summary';
console.log('\n=== test runs ===');
for (const r of results)
  console.log(`${r.status === 0 ? '✔' : '✖'} ${r.name}: ${fmt(r.summary)}; ${r.note ?? `exit ${r.status}`}`);
if (!process.env.TEST_POSTGRES_URL)
  console.log('- backend-dependent (PostgreSQL): not run, TEST_POSTGRES_URL is not set');
console.log(
  failed.length
    ? `✖ ${failed.length} of ${results.length} run(s) failed: ${failed.map((r) => r.name).join(', ')}`
    : `✔ all ${results.length} run(s) passed`,
);
// The totals over every run, in the runner's own closing format.
// A run that failed without counting a failure (it crashed, or printed no summary) counts as one.
for (const key of COUNTERS) {
  let total = results.reduce((sum, r) => sum + (r.summary?.[key] ?? 0), 0);
  if (key === 'fail') total += results.filter((r) => r.status !== 0 && !(r.summary?.fail > 0)).length;
  console.log(`ℹ ${key} ${key === 'duration_ms' ? Math.round(total * 1000) / 1000 : total}`);
}
process.exit(failed.length ? 1 : 0);
