import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { runCli, spawnNode, type SpawnedNode } from '../support/process.ts';
import { Browser, csrfFrom } from '../support/http.ts';
import { ROOMY_LIMITS, freePort } from '../support/server.ts';
import { sleep } from '../reliability/helpers.ts';

// `latchkey serve --workers 2` on SQLite: two processes on one file, each with its own caches of
// checked credentials. A key revoked through one worker is refused by the other within 1 s (it
// reads the credential events the first recorded); without that, for CREDENTIAL_CACHE_TTL.

/** One request on a fresh connection, so the primary hands each to the next worker. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; pid: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        res.resume().on('end', () => resolve({ status: res.statusCode!, pid: String(res.headers['x-latchkey-pid']) }));
      })
      .on('error', reject);
  });
}

describe('latchkey serve --workers 2 on SQLite: a revocation through one worker', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-workers-'));
  let base: string;
  let env: Record<string, string>;
  let primary: SpawnedNode;
  const password = 'a long workers password';

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = {
      PORT: String(port),
      ISSUER: base,
      DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`,
      ...ROOMY_LIMITS,
    };
    const created = await runCli(['users', 'create', '--email', 'workers@example.com', '--password-stdin'], {
      env,
      input: password,
    });
    assert.equal(created.code, 0, created.stderr);
    primary = spawnNode(['bin/latchkey.js', 'serve', '--workers', '2'], {
      env: { ...env, LOG_LEVEL: 'info', LATCHKEY_DEBUG_PID: '1' },
    });
    await primary.waitForLine(/primary started 2 workers/);
    for (
      const until = Date.now() + 120_000;
      primary.stdoutLines().filter((l) => l.includes('Latchkey listening')).length < 2;
      await sleep(100)
    ) {
      if (Date.now() > until) assert.fail(`the workers did not both start: ${primary.stderr()}`);
    }
  });
  after(async () => {
    if (primary.child.exitCode === null) {
      primary.child.kill('SIGTERM');
      await primary.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is refused by the other worker within 1 s', async () => {
    const created = await runCli(
      ['keys', 'create', '--owner', 'workers@example.com', '--name', 'w', '--scopes', 'read:users'],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    const auth = { Authorization: `Bearer ${key}` };

    // Both workers have checked the key twice, and so remember it (from its second read on).
    const checks = new Map<string, number>();
    const warmed = () => checks.size === 2 && [...checks.values()].every((n) => n >= 2);
    for (let i = 0; i < 40 && !warmed(); i++) {
      const res = await get(`${base}/v2/auth/test`, auth);
      assert.equal(res.status, 200);
      checks.set(res.pid, (checks.get(res.pid) ?? 0) + 1);
    }
    assert.ok(warmed(), `both workers answered twice: ${JSON.stringify([...checks])}`);

    const browser = new Browser(base);
    const login = await browser.postForm('/login', {
      _csrf: csrfFrom(await (await browser.get('/login')).text()),
      email: 'workers@example.com',
      password,
    });
    assert.equal(login.status, 303);
    const revoked = await browser.request(`/v2/api-keys/${id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200);
    const start = performance.now();

    const answers: { at: number; pid: string; status: number }[] = [];
    while (performance.now() - start < 1600) {
      const res = await get(`${base}/v2/auth/test`, auth);
      answers.push({ at: performance.now() - start, ...res });
      await sleep(20);
    }
    const late = answers.filter((a) => a.at >= 1000);
    assert.equal(new Set(late.map((a) => a.pid)).size, 2, 'both workers answered after the first second');
    const accepted = late.filter((a) => a.status !== 401);
    assert.deepEqual(accepted, [], `accepted ${accepted.length} times more than 1 s after the revocation`);
  });
});
