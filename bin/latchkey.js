#!/usr/bin/env node
// The `latchkey` command: runs the compiled CLI, dist/cli.js.
//
// In a checkout whose dist/ is missing or older than src/ (a fresh clone after `npm ci`, a pull, an
// edit), it first compiles src/ to dist/ as `npm run build` does (tsc -p tsconfig.build.json,
// incremental: ~20 s the first time, a few seconds after a change; then the server's bundle,
// dist/server/, which `serve` runs: scripts/bundle-server.mjs, ~5 s), saying so when run from a
// terminal. Commands started together build once: the first takes a lock file, the others wait for
// it. Without TypeScript (installed with --omit=dev) it runs dist/ as it is, or says how to build it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const entry = path.join(dist, 'cli.js');
const serverBundle = path.join(dist, 'server', 'main.js');
// tsc rewrites it on every build that changes anything; this script touches it after each build.
const stamp = path.join(dist, '.tsbuildinfo');
const lockFile = path.join(dist, '.build-lock');
/** A lock older than this is left over from a build that was killed. */
const STALE_LOCK_MS = 10 * 60_000;

const mtime = (file) => fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;

/** The newest change to what the build compiles: src/ (tests aside), the tsconfig files and the bundler's script. */
function newestSource() {
  let newest = Math.max(
    ...['tsconfig.json', 'tsconfig.build.json', 'scripts/bundle-server.mjs'].map((f) => mtime(path.join(root, f))),
  );
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, mtime(full));
    }
  };
  if (fs.existsSync(path.join(root, 'src'))) walk(path.join(root, 'src'));
  return newest;
}

const current = () => {
  const newest = newestSource();
  return fs.existsSync(entry) && mtime(stamp) >= newest && mtime(serverBundle) >= newest;
};

function fail(message) {
  process.stderr.write(`latchkey: ${message}\n`);
  process.exit(1);
}

/** Takes the build lock, or returns false while another live process holds it. */
function tryLock() {
  try {
    fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return true;
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
  let holder;
  try {
    holder = Number(fs.readFileSync(lockFile, 'utf8'));
  } catch {
    return false; // released meanwhile: try again
  }
  // No pid yet: the holder has created the file and not written it (it counts as alive).
  let alive = true;
  if (Number.isInteger(holder) && holder > 0) {
    try {
      process.kill(holder, 0);
    } catch (err) {
      alive = err.code !== 'ESRCH'; // EPERM: alive, another user's
    }
  }
  if (!alive || Date.now() - mtime(lockFile) > STALE_LOCK_MS) fs.rmSync(lockFile, { force: true });
  return false;
}

/** Compiles src/ to dist/; returns what went wrong, or null. */
function build(tsc) {
  if (process.stderr.isTTY) process.stderr.write('latchkey: compiling src/ to dist/ first (npm run build)...\n');
  let result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (result.status === 0)
    result = spawnSync(process.execPath, [path.join(root, 'scripts', 'bundle-server.mjs')], {
      cwd: root,
      encoding: 'utf8',
    });
  if (result.status !== 0) {
    // tsc writes its stamp even when it reports errors: age it, so the next command builds again.
    if (fs.existsSync(stamp)) fs.utimesSync(stamp, 0, 0);
    return `the build (npm run build) failed:\n${result.stdout}${result.stderr}${result.error?.message ?? ''}`;
  }
  const now = new Date();
  if (fs.existsSync(stamp)) fs.utimesSync(stamp, now, now);
  return null;
}

if (!current()) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    if (!fs.existsSync(entry))
      fail('dist/ is missing and TypeScript is not installed to build it: run `npm ci`, then `npm run build`');
  }
  if (tsc) {
    fs.mkdirSync(dist, { recursive: true });
    while (!tryLock()) await new Promise((resolve) => setTimeout(resolve, 200));
    let failure = null;
    try {
      // Another command may have built it while this one waited.
      if (!current()) failure = build(tsc);
    } finally {
      fs.rmSync(lockFile, { force: true });
    }
    if (failure) fail(failure);
  }
}
await import('../dist/cli.js');
