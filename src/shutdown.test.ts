import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { runCli, spawnNode, type SpawnedNode } from '../test/support/process.ts';
import { freePort } from '../test/support/server.ts';
import { WebhookReceiver } from '../test/support/webhook-receiver.ts';

// Graceful shutdown of `npm start` (node --import tsx src/main.ts) on SIGTERM: it stops accepting,
// finishes the request in flight (a POST whose body is still arriving), stops the webhook worker,
// flushes the API key activity buffer, closes the database and exits 0. SQLite, in a temp folder.

describe('graceful shutdown on SIGTERM', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: SpawnedNode | undefined;
  let key: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-shutdown-'));
    const port = await freePort();
    env = {
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      DATABASE_URL: `sqlite:${path.join(dir, 'latchkey.sqlite')}`,
    };
    const user = await runCli(['users', 'create', '--email', 'ops@example.com', '--password-stdin'], {
      env,
      input: 'a long ops password',
    });
    assert.equal(user.code, 0, user.stderr);
    const created = await runCli(
      ['keys', 'create', '--owner', 'ops@example.com', '--name', 'ops', '--scopes', 'write:projects'],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    key = (JSON.parse(created.stdout) as { key: string }).key;
  });
  after(() => {
    if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the request in flight, refuses new connections, closes the database and exits 0', async () => {
    server = spawnNode(['--import', 'tsx', 'src/main.ts'], { env: { ...env, LOG_LEVEL: 'info' } });
    await server.waitForLine(/Latchkey listening/);
    const base = env['ISSUER']!;

    // An idle kept-alive connection must not hold the shutdown up.
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      http.get(`${base}/healthz`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );

    // A request in flight: headers and half of the body now, the rest after SIGTERM.
    const body = JSON.stringify({ name: 'Created during shutdown' });
    const answer = new Promise<{ status: number; text: string; connection: string | undefined }>((resolve, reject) => {
      const req = http.request(
        `${base}/v2/projects`,
        {
          method: 'POST',
          agent: false,
          headers: {
            Authorization: `Bearer ${key}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'X-Request-ID': 'in-flight-1',
          },
        },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (d: string) => (text += d))
            .on('end', () => resolve({ status: res.statusCode!, text, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        server!.child.kill('SIGTERM');
        void server!.waitForLine(/"msg":"shutting down"/).then(async () => {
          // Stopped accepting: new connections are refused while the old request is still open.
          // (The log line is written just before the listener closes: allow a moment.)
          const connects = () =>
            new Promise<boolean>((r) => {
              const s = net.connect(Number(env['PORT']), '127.0.0.1');
              s.on('connect', () => {
                s.destroy();
                r(true);
              }).on('error', () => r(false));
            });
          let accepted = true;
          for (let i = 0; i < 40 && accepted; i++) {
            accepted = await connects();
            if (accepted) await new Promise((r) => setTimeout(r, 25));
          }
          assert.equal(accepted, false, 'new connections are refused once shutting down');
          req.end(body.slice(10));
        }, reject);
      }, 300);
    });

    const res = await answer;
    assert.equal(res.status, 201, res.text);
    assert.equal((JSON.parse(res.text) as { name: string }).name, 'Created during shutdown');
    const exit = await server.exited;
    agent.destroy();
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());

    const logs = server
      .stdoutLines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(logs.some((l) => l['msg'] === 'shutting down' && l['signal'] === 'SIGTERM'));
    assert.ok(logs.some((l) => l['msg'] === 'stopped'));
    assert.ok(
      logs.some((l) => l['msg'] === 'request' && l['reqId'] === 'in-flight-1' && l['status'] === 201),
      'the in-flight request was logged',
    );

    // The database was closed cleanly: intact, the write is there, and the buffered API key
    // activity of the in-flight request was flushed before the close.
    const db = new SQLite(env['DATABASE_URL']!.slice('sqlite:'.length), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.equal(
        (
          db.prepare('select count(*) as n from projects where name = ?').get('Created during shutdown') as {
            n: number;
          }
        ).n,
        1,
      );
      assert.equal(
        (
          db.prepare('select count(*) as n from api_key_activity where request_id = ?').get('in-flight-1') as {
            n: number;
          }
        ).n,
        1,
      );
    } finally {
      db.close();
    }
  });

  it(
    'does not wait for a webhook receiver that never answers: exits 0 within 5 s and leaves the delivery ' + 'queued',
    async () => {
      const silent = await WebhookReceiver.start();
      silent.hang();
      try {
        const admin = await runCli(['users', 'create', '--email', 'hooks@example.com', '--admin', '--password-stdin'], {
          env,
          input: 'a long admin password',
        });
        assert.equal(admin.code, 0, admin.stderr);
        const made = await runCli(
          ['keys', 'create', '--owner', 'hooks@example.com', '--name', 'hooks', '--scopes', 'admin:all'],
          { env },
        );
        assert.equal(made.code, 0, made.stderr);
        const adminKey = (JSON.parse(made.stdout) as { key: string }).key;
        server = spawnNode(['--import', 'tsx', 'src/main.ts'], {
          env: { ...env, LOG_LEVEL: 'info', WEBHOOK_ALLOW_PRIVATE: '1' },
        });
        await server.waitForLine(/Latchkey listening/);
        const call = (p: string, body: unknown) =>
          fetch(`${env['ISSUER']}${p}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        assert.equal((await call('/v2/webhooks', { url: silent.url(), events: ['api_key.created'] })).status, 201);
        assert.equal((await call('/v2/api-keys', { name: 'causes an event', scopes: ['read:users'] })).status, 201);
        for (
          const end = Date.now() + 5_000;
          silent.requests.length === 0;
          await new Promise((r) => setTimeout(r, 20))
        ) {
          assert.ok(Date.now() < end, 'the delivery reached the receiver');
        }

        const signalled = Date.now();
        server.child.kill('SIGTERM');
        const exit = await server.exited;
        const took = Date.now() - signalled;
        assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
        assert.ok(took < 5_000, `stopped in ${took} ms`);

        // Not counted as a failed attempt (the receiver did nothing wrong), and not held: the next
        // instance to start sends it again at once, with the same webhook-id.
        const db = new SQLite(env['DATABASE_URL']!.slice('sqlite:'.length), { readonly: true });
        try {
          const rows = db.prepare('select status, attempts, locked_until from webhook_deliveries').all();
          assert.deepEqual(rows, [{ status: 'pending', attempts: 0, locked_until: null }]);
        } finally {
          db.close();
        }
      } finally {
        await silent.close();
      }
    },
  );
});
