#!/usr/bin/env node
// Runs *.test.ts files with node's test runner and tsx. Node 20's runner does not expand globs
// itself, so the files are collected here.
//
//   node scripts/run-tests.mjs            the whole matrix (`npm test`): the unit and integration
//                                         suite (src/) on SQLite, then again on PostgreSQL when
//                                         TEST_POSTGRES_URL is set, then the e2e suite (e2e/) once,
//                                         on SQLite; exits non-zero when any run fails.
//   node scripts/run-tests.mjs src [...]  one run over the given folders or files, on the backend
//                                         the environment selects (TEST_DATABASE=postgres with
//                                         TEST_POSTGRES_URL, otherwise SQLite).
//
// Every run prints which backend it is on, then the test runner's own output unchanged. After a
// matrix, a per-run table and the totals follow, in the runner's own summary format.
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

// Tests about the SQLite file itself (kill -9 of a server process on a WAL file, then
// PRAGMA integrity_check) belong to the SQLite run only; the PostgreSQL run leaves them out.
const SQLITE_ONLY = new Set(['test/reliability/crash-safety.test.ts']);
const COUNTERS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];
// eslint-disable-next-line no-control-regex
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
const ANSI = /\x1b\[[0-9;]*m/g;

/** One test-runner process over `roots` on `backend`; resolves with its exit status and summary. */
function run({ label, roots, backend }) {
  const name = `${label} (${BACKEND_NAMES[backend]})`;
  const files = collect(roots).filter((f) => backend !== 'postgres' || !SQLITE_ONLY.has(f.split(path.sep).join('/')));
  const banner =
    `\n=== ${name}: ${files.length} test file(s) under ${roots.join(', ')}, ` +
    `database backend: ${BACKEND_NAMES[backend]} ===\n`;
  process.stdout.write(banner);
  if (files.length === 0) {
    console.error(`no test files under ${roots.join(', ')}`);
    return Promise.resolve({ name, status: 1, summary: null });
  }
  const env = { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' };
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
        '--test',
        '--test-reporter=spec',
        '--test-concurrency=2',
        ...files,
      ],
      { stdio: ['inherit', 'pipe', 'inherit'], env },
    );
    // Pass the runner's output through untouched, and read its closing summary on the way.
    const summary = {};
    let partial = '';
    const scan = (line) => {
      const m = /^ℹ (\w+) ([\d.]+)\s*$/.exec(line.replace(ANSI, ''));
      if (m && COUNTERS.includes(m[1])) summary[m[1]] = Number(m[2]);
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
      resolve({ name, status: code ?? 1, summary: Object.keys(summary).length ? summary : null });
    });
  });
}

const selectedBackend = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
const args = process.argv.slice(2);

if (args.length) {
  // One run, on the backend the environment selects.
  const label = args.join(' ');
  const { status } = await run({ label, roots: args, backend: selectedBackend });
  process.exit(status);
}

// The matrix. packages/ holds each workspace package with its own tests (the SDK's).
const UNIT_ROOTS = ['src', 'test', 'packages'];
const plan = [{ label: 'unit', roots: UNIT_ROOTS, backend: 'sqlite' }];
if (process.env.TEST_POSTGRES_URL) plan.push({ label: 'unit', roots: UNIT_ROOTS, backend: 'postgres' });
plan.push({ label: 'e2e', roots: ['e2e'], backend: 'sqlite' });

const results = [];
for (const step of plan) results.push(await run(step));

const failed = results.filter((r) => r.status !== 0);
const fmt = (s) =>
  s
    ? `${s.tests ?? '?'} tests, ${s.pass ?? '?'} pass, ${s.fail ?? '?'} fail, ` +
      `${s.cancelled ?? 0} cancelled, ${s.skipped ?? 0} skipped`
    : 'no summary';
console.log('\n=== test runs ===');
for (const r of results) console.log(`${r.status === 0 ? '✔' : '✖'} ${r.name}: ${fmt(r.summary)}; exit ${r.status}`);
if (!process.env.TEST_POSTGRES_URL) console.log('- unit (PostgreSQL): not run, TEST_POSTGRES_URL is not set');
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
