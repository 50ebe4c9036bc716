import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { createTestDatabase, testBackend, type TestDatabase } from '../support/database.ts';
import { spawnNode, type SpawnedNode } from '../support/process.ts';
import { Browser, signUp } from '../support/http.ts';
import { freePort, ROOMY_LIMITS } from '../support/server.ts';

// Three real server processes on one database, all using the same API keys at once: every
// request's activity entry is written (none lost to deadlocks between instances), a batch that
// names a deleted key still writes the others, the backlog is bounded, and SIGTERM stops an
// instance within 10 s even while its activity cannot be written, saying what it dropped.
// SOAK=1 runs a longer load.

const ROUNDS = process.env['SOAK'] ? 60 : 8;
/** Concurrent clients per instance. */
const CLIENTS = 3;
const KEYS = 12;
/** The backlog bound of the instance that is stopped under backlog (the others keep the default). */
const SMALL_BACKLOG = 100;

interface Instance {
  base: string;
  proc: SpawnedNode;
}

/** One request on a fresh connection (many sockets at once, as many clients would). */
function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false },
      (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (body += d))
          .on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const shuffled = <T>(items: T[]): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

type LogLine = Record<string, unknown>;
const logsOf = (p: SpawnedNode): LogLine[] =>
  p
    .stdoutLines()
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe(`API key activity from three server processes on one ${testBackend} database`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-activity-'));
  let database: TestDatabase;
  let env: Record<string, string>;
  const instances: Instance[] = [];
  let owner: Browser;
  let keys: { id: string; key: string }[] = [];

  /** Runs one query on the test database, outside the servers. */
  async function count(sqlText: string, params: unknown[] = []): Promise<number> {
    if (testBackend === 'sqlite') {
      const db = new SQLite(database.url.slice('sqlite:'.length), { readonly: true });
      try {
        return Number((db.prepare(sqlText.replace(/\$\d+/g, '?')).get(...params) as { n: number }).n);
      } finally {
        db.close();
      }
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sqlText, params)).rows[0]!.n);
    } finally {
      await client.end();
    }
  }

  async function start(extra: Record<string, string> = {}): Promise<Instance> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = spawnNode(['--import', 'tsx', 'src/main.ts'], {
      env: { ...env, ...extra, PORT: String(port), ISSUER: base },
    });
    await proc.waitForLine(/Latchkey listening/, 120_000);
    return { base, proc };
  }

  /** Lists the owner's keys on one instance: that instance writes what it holds first. */
  async function flushOn(instance: Instance): Promise<void> {
    const res = await request(`${instance.base}/v2/api-keys`, { headers: { cookie: owner.jar.header() } });
    assert.equal(res.status, 200, res.body);
  }

  before(async () => {
    database = await createTestDatabase(dir);
    env = {
      DATABASE_URL: database.url,
      SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
      LOG_LEVEL: 'info',
      ...ROOMY_LIMITS,
    };
    // The first instance migrates and makes the server keys; the others then start side by side.
    instances.push(await start());
    instances.push(...(await Promise.all([start(), start({ API_KEY_ACTIVITY_BACKLOG: String(SMALL_BACKLOG) })])));
    owner = new Browser(instances[0]!.base);
    await signUp(owner, 'activity-owner@example.com', 'a long owner passphrase');
    keys = [];
    for (let i = 0; i < KEYS; i++) {
      const res = await owner.postJson('/v2/api-keys', { name: `shared ${i}`, scopes: ['read:users'] });
      assert.equal(res.status, 201, await res.clone().text());
      keys.push((await res.json()) as { id: string; key: string });
    }
  });
  after(async () => {
    for (const i of instances) if (i.proc.child.exitCode === null) i.proc.child.kill('SIGKILL');
    await Promise.all(instances.map((i) => i.proc.exited));
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes an activity entry for every request when every instance uses the same keys at once', async () => {
    let succeeded = 0;
    // Each client: every key once, in its own random order, then a listing (which writes that
    // instance's batch at once): batches naming the same keys in different orders, on every
    // instance, all the time.
    const client = async (instance: Instance, tag: string) => {
      for (let round = 0; round < ROUNDS; round++) {
        const answers = await Promise.all(
          shuffled(keys).map((k, i) =>
            request(`${instance.base}/v2/auth/test`, {
              headers: { Authorization: `Bearer ${k.key}`, 'X-Request-ID': `load-${tag}-${round}-${i}` },
            }),
          ),
        );
        for (const a of answers) assert.equal(a.status, 200, a.body);
        succeeded += answers.length;
        await flushOn(instance);
      }
    };
    await Promise.all(
      instances.flatMap((instance, n) => Array.from({ length: CLIENTS }, (_, c) => client(instance, `${n}-${c}`))),
    );
    await Promise.all(instances.map(flushOn));
    assert.equal(succeeded, instances.length * CLIENTS * ROUNDS * KEYS);
    assert.equal(
      await count("select count(*) as n from api_key_activity where request_id like 'load-%'"),
      succeeded,
      'one entry per successful request',
    );
    // last_used_at is the latest use, whichever instance wrote last.
    const latest = await count(
      'select count(*) as n from api_keys k ' +
        'where k.last_used_at = (select max(a.at) from api_key_activity a where a.key_id = k.id) ' +
        "and k.name like 'shared %'",
    );
    assert.equal(latest, KEYS);
  });

  it('writes the other entries of a batch that names a deleted key', async () => {
    const victim = new Browser(instances[1]!.base);
    await signUp(victim, 'activity-victim@example.com', 'a long victim passphrase');
    const created = await victim.postJson('/v2/api-keys', { name: 'doomed', scopes: ['read:users', 'delete:users'] });
    assert.equal(created.status, 201);
    const doomed = (await created.json()) as { id: string; key: string };
    const on = instances[1]!.base;
    const use = (key: string, id: string, method = 'GET', url = '/v2/auth/test') =>
      request(`${on}${url}`, { method, headers: { Authorization: `Bearer ${key}`, 'X-Request-ID': id } });
    // The key is used, then its account (and so the key) deleted through it; another key is used;
    // then the listing writes the batch: two entries of a key that no longer exists, one that does.
    assert.equal((await use(doomed.key, 'doomed-use')).status, 200);
    assert.equal((await use(doomed.key, 'doomed-delete', 'DELETE', '/v2/users/me')).status, 204);
    assert.equal((await use(keys[0]!.key, 'survivor')).status, 200);
    await flushOn(instances[1]!);
    assert.equal(
      await count("select count(*) as n from api_key_activity where request_id = 'survivor'"),
      1,
      "the live key's entry was written",
    );
    assert.equal(await count('select count(*) as n from api_key_activity where key_id = $1', [doomed.id]), 0);
    assert.equal(await count('select count(*) as n from api_keys where id = $1', [doomed.id]), 0);
  });

  it(
    'bounds the backlog, and stops within 10 s on SIGTERM while activity cannot be written, ' +
      'saying what it dropped',
    async () => {
      const instance = instances[2]!;
      const sent = SMALL_BACKLOG + 50;
      // Another session holds the activity table (PostgreSQL) until the instance has stopped, or
      // the database's write lock (SQLite, where that stalls every writer: until just after SIGTERM,
      // so the instance then writes its backlog on the way out).
      let release: () => Promise<void>;
      if (testBackend === 'sqlite') {
        const blocker = new SQLite(database.url.slice('sqlite:'.length));
        blocker.exec('BEGIN IMMEDIATE');
        release = async () => {
          if (!blocker.open) return;
          blocker.exec('ROLLBACK');
          blocker.close();
        };
      } else {
        const blocker = new pg.Client({ connectionString: database.url });
        await blocker.connect();
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE api_key_activity IN SHARE MODE');
        let released = false;
        release = async () => {
          if (released) return;
          released = true;
          await blocker.query('ROLLBACK');
          await blocker.end();
        };
      }
      try {
        const answers = await Promise.all(
          Array.from({ length: sent }, (_, i) =>
            request(`${instance.base}/v2/auth/test`, {
              headers: { Authorization: `Bearer ${keys[i % KEYS]!.key}`, 'X-Request-ID': `backlog-${i}` },
            }),
          ),
        );
        assert.deepEqual(
          new Set(answers.map((a) => a.status)),
          new Set([200]),
          'requests are answered while activity waits',
        );
        await instance.proc.waitForLine(/could not write API key activity/, 30_000);
        const stoppedAt = Date.now();
        instance.proc.child.kill('SIGTERM');
        if (testBackend === 'sqlite') setTimeout(() => void release(), 1000);
        const exit = await instance.proc.exited;
        const took = Date.now() - stoppedAt;
        assert.deepEqual(exit, { code: 0, signal: null }, instance.proc.stderr());
        assert.ok(took < 10_000, `stopped in ${took} ms`);
        await release();

        const logs = logsOf(instance.proc);
        assert.ok(
          logs.some(
            (l) => l['msg'] === 'API key activity backlog full; dropping entries' && l['limit'] === SMALL_BACKLOG,
          ),
        );
        const overflowed = logs
          .filter((l) => l['msg'] === 'API key activity dropped while the backlog was full')
          .reduce((n, l) => n + Number(l['dropped']), 0);
        assert.equal(overflowed, sent - SMALL_BACKLOG, 'entries past the bound were dropped, and counted');
        const atStop = logs.find((l) => l['msg'] === 'API key activity not written before shutdown; dropped');
        const written = await count("select count(*) as n from api_key_activity where request_id like 'backlog-%'");
        if (testBackend === 'postgres') {
          assert.ok(atStop, 'what could not be written in time is logged');
          assert.equal(
            written + Number(atStop['dropped']),
            SMALL_BACKLOG,
            'every waiting entry was written or reported dropped',
          );
        } else {
          assert.equal(atStop, undefined);
          assert.equal(written, SMALL_BACKLOG, 'the backlog was written once the database was free');
        }
      } finally {
        await release();
      }
    },
  );

  it('stops every other instance within 10 s, flushing its activity; no instance met a deadlock', async () => {
    const [a, b] = instances;
    assert.equal(
      (
        await request(`${a!.base}/v2/auth/test`, {
          headers: { Authorization: `Bearer ${keys[1]!.key}`, 'X-Request-ID': 'last-a' },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await request(`${b!.base}/v2/auth/test`, {
          headers: { Authorization: `Bearer ${keys[1]!.key}`, 'X-Request-ID': 'last-b' },
        })
      ).status,
      200,
    );
    const stoppedAt = Date.now();
    for (const i of [a!, b!]) i.proc.child.kill('SIGTERM');
    const exits = await Promise.all([a!.proc.exited, b!.proc.exited]);
    assert.ok(Date.now() - stoppedAt < 10_000);
    assert.deepEqual(exits, [
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
    assert.equal(await count("select count(*) as n from api_key_activity where request_id in ('last-a', 'last-b')"), 2);
    for (const i of instances) {
      const troubles = logsOf(i.proc).filter((l) => /deadlock/i.test(JSON.stringify(l)));
      assert.deepEqual(troubles, [], 'no instance logged a deadlock');
    }
    if (testBackend === 'postgres') {
      // The servers' sessions have ended, so their statistics are in: PostgreSQL's own count.
      const name = new URL(database.url).pathname.slice(1);
      let deadlocks = 0;
      for (let i = 0; i < 10; i++) {
        deadlocks = await count('select deadlocks as n from pg_stat_database where datname = $1', [name]);
        if (deadlocks > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(deadlocks, 0, 'PostgreSQL detected no deadlock in this database');
    }
  });
});
