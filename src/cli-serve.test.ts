import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { runCli, spawnNode, type SpawnedNode } from '../test/support/process.ts';
import { Browser, signUp } from '../test/support/http.ts';
import { freePort } from '../test/support/server.ts';

// `latchkey serve --workers 2` (node:cluster, SQLite in WAL mode): two worker processes share the
// port and both answer; the primary replaces a worker that dies; /metrics sums every worker; SIGTERM
// to the primary stops them all and exits 0. Workers show their pid with LATCHKEY_DEBUG_PID=1.

/** One request on a fresh connection (so the primary hands each to the next worker). */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; pid: string; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (body += d))
          .on('end', () =>
            resolve({
              status: res.statusCode!,
              pid: String(res.headers['x-latchkey-pid']),
              body,
              headers: res.headers,
            }),
          );
      })
      .on('error', reject);
  });
}

async function waitUntil(cond: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) assert.fail(why());
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The test key's own burst limit (requests per second). */
const BURST = 20;

describe('latchkey serve --workers 2', () => {
  let dir: string;
  let env: Record<string, string>;
  let base: string;
  let key: string;
  /** A key whose own limit is BURST requests per second. */
  let burstKey: string;
  let primary: SpawnedNode;
  const seenPids = new Set<number>();

  /** Distinct pids answering /healthz over `n` fresh connections. */
  async function pidsOver(n: number): Promise<Set<string>> {
    const pids = new Set<string>();
    for (let i = 0; i < n; i++) {
      const res = await get(`${base}/healthz`);
      assert.equal(res.status, 200);
      pids.add(res.pid);
      seenPids.add(Number(res.pid));
    }
    return pids;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-serve-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { PORT: String(port), ISSUER: base, DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}` };
    assert.equal(
      (
        await runCli(['users', 'create', '--email', 'cluster@example.com', '--password-stdin'], {
          env,
          input: 'a long cluster password',
        })
      ).code,
      0,
    );
    const [created, limited] = await Promise.all([
      runCli(['keys', 'create', '--owner', 'cluster@example.com', '--name', 'cluster', '--scopes', 'read:users'], {
        env,
      }),
      runCli(
        [
          'keys',
          'create',
          '--owner',
          'cluster@example.com',
          '--name',
          'limited',
          '--scopes',
          'read:users',
          '--burst',
          String(BURST),
          '--hourly',
          '10000',
        ],
        { env },
      ),
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(limited.code, 0, limited.stderr);
    key = (JSON.parse(created.stdout) as { key: string }).key;
    burstKey = (JSON.parse(limited.stdout) as { key: string }).key;

    primary = spawnNode(['bin/latchkey.js', 'serve', '--workers', '2'], {
      env: { ...env, LOG_LEVEL: 'info', LATCHKEY_DEBUG_PID: '1' },
    });
    await primary.waitForLine(/primary started 2 workers/);
    // Each worker loads the whole app (through tsx) before it listens: allow for a slow machine.
    await waitUntil(
      () => primary.stdoutLines().filter((l) => l.includes('Latchkey listening')).length >= 2,
      120_000,
      () => `the workers did not both start: ${primary.stderr()}`,
    );
  });
  after(() => {
    if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
    for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers from two worker processes, neither of them the primary', async () => {
    const pids = await pidsOver(10);
    assert.equal(pids.size, 2, [...pids].join(','));
    assert.ok(!pids.has(String(primary.child.pid)));
    // Each worker runs the server's bundle, as `npm start` does, not the CLI's modules.
    for (const pid of pids) {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.ok(args.includes(path.resolve('dist/server/main.js')), args.join(' '));
    }
  });

  it('serves the API from every worker on the one SQLite database', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => get(`${base}/v2/auth/test`, { Authorization: `Bearer ${key}` })),
    );
    for (const a of answers) assert.equal(a.status, 200, a.body);
    assert.equal(new Set(answers.map((a) => a.pid)).size, 2, 'both workers authenticated the key');
    // Writes through the workers: a sign-up, then a login on fresh connections.
    const browser = new Browser(base);
    await signUp(browser, 'signup@example.com', 'another long password');
    assert.equal((await browser.get('/dashboard')).status, 200);
  });

  it("answers /metrics with every worker's counts summed", async () => {
    const before = await get(`${base}/metrics`);
    assert.equal(before.status, 200, before.body);
    const count = (text: string) =>
      text
        .split('\n')
        .filter(
          (l) =>
            l.startsWith('http_requests_total{') && l.includes('route="/v2/auth/test"') && l.includes('status="200"'),
        )
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    assert.equal(count(before.body), 12, 'the 12 calls above, whichever worker took them');
    assert.equal(before.body.split('\n').filter((l) => l.startsWith('webhook_outbox_depth ')).length, 1);
  });

  it("holds a key's burst limit across workers: they share one count (through the primary)", async () => {
    // 3 x BURST requests at once, inside one one-second window (fixed windows start on the
    // second: begin just after one, and try again should the answers run into the next).
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 10));
      const windowEnds = Math.ceil(Date.now() / 1000) * 1000;
      const answers = await Promise.all(
        Array.from({ length: 3 * BURST }, () => get(`${base}/v2/auth/test`, { Authorization: `Bearer ${burstKey}` })),
      );
      if (Date.now() >= windowEnds && attempt < 5) continue;
      assert.ok(Date.now() < windowEnds, 'the burst fitted in one window');
      const allowed = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status !== 200);
      // Both workers took requests (allowed or refused): which worker's come first is the kernel's
      // choice, so the allowed ones alone may all be one worker's.
      assert.ok(
        answers.every((a) => /^\d+$/.test(a.pid)),
        'every answer names its worker',
      );
      assert.equal(new Set(answers.map((a) => a.pid)).size, 2, 'both workers answered');
      assert.equal(allowed.length, BURST, `${allowed.length} of ${answers.length} allowed`);
      for (const r of refused) {
        assert.equal(r.status, 429, r.body);
        assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'RATE_LIMITED');
      }
      // One counter: every allowed answer saw a different hourly count.
      const hourlyLeft = allowed.map((a) => /"hourly";r=(\d+)/.exec(String(a.headers['ratelimit']))?.[1]);
      assert.equal(new Set(hourlyLeft).size, BURST, hourlyLeft.join(','));
      return;
    }
  });

  it('prints the first-run setup link once, from the primary, and every worker opens it', async () => {
    // The database holds no admin (the account above is not one): the start prints a link.
    const lines = primary.stdoutLines().filter((l) => l.includes('/setup?token='));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.equal((JSON.parse(lines[0]!) as { role?: string }).role, 'primary');
    const link = /(http:\/\/\S+\/setup\?token=[A-Za-z0-9]+)/.exec(lines[0]!)![1]!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(link)));
    for (const a of answers) assert.equal(a.status, 200, a.body);
    assert.equal(new Set(answers.map((a) => a.pid)).size, 2, 'both workers accepted the link');
  });

  it('replaces a worker that dies', async () => {
    const [victim] = [...(await pidsOver(4))];
    process.kill(Number(victim), 'SIGKILL');
    await primary.waitForLine(/worker exited; starting another/);
    await waitUntil(
      () => primary.stdoutLines().filter((l) => l.includes('Latchkey listening')).length >= 3,
      120_000,
      () => 'no replacement worker started',
    );
    const pids = await pidsOver(6);
    assert.equal(pids.size, 2, [...pids].join(','));
    assert.ok(!pids.has(victim!));
  });

  it('stops every worker gracefully on SIGTERM and exits 0', async () => {
    const workers = [...(await pidsOver(4))].map(Number);
    // Calls whose activity entries are still buffered (flushed each second) when SIGTERM comes.
    const last = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        get(`${base}/v2/auth/test`, { Authorization: `Bearer ${key}`, 'X-Request-ID': `last-${i}` }),
      ),
    );
    assert.deepEqual(new Set(last.map((r) => r.status)), new Set([200]));
    primary.child.kill('SIGTERM');
    const exit = await primary.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, primary.stderr());
    for (const pid of workers) assert.ok(!alive(pid), `worker ${pid} stopped`);
    const logs = primary
      .stdoutLines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const pid of workers)
      assert.ok(
        logs.some((l) => l['pid'] === pid && l['msg'] === 'stopped'),
        `worker ${pid} logged its stop`,
      );
    assert.ok(logs.some((l) => l['role'] === 'primary' && l['msg'] === 'all workers stopped'));
    const db = new SQLite(env['DATABASE_URL']!.slice('sqlite:'.length), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const flushed = db.prepare("select count(*) as n from api_key_activity where request_id like 'last-%'").get() as {
        n: number;
      };
      assert.equal(flushed.n, 6, 'every worker flushed its buffered activity log before closing the database');
    } finally {
      db.close();
    }
  });
});

describe('latchkey serve (one process)', () => {
  it('serves from the bundled server in its own process and stops on SIGTERM with exit code 0', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-serve-one-'));
    try {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const server = spawnNode(['bin/latchkey.js', 'serve'], {
        env: {
          PORT: String(port),
          ISSUER: base,
          DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`,
          LOG_LEVEL: 'info',
          LATCHKEY_DEBUG_PID: '1',
        },
      });
      await server.waitForLine(/Latchkey listening/);
      const health = await get(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(health.pid, String(server.child.pid), 'the CLI process itself serves');
      const login = await get(`${base}/login`);
      assert.equal(login.status, 200);
      assert.match(login.body, /<form[^>]+method="post"/i);
      const unauthenticated = await get(`${base}/v2/auth/test`);
      assert.equal(unauthenticated.status, 401);
      server.child.kill('SIGTERM');
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
