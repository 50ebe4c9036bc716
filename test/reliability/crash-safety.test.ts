/**
 * Crash safety: the real server as a child process (`node src/main.ts`) on a
 * SQLite file, under a write-heavy load over HTTP (sign-ups through the form, API keys from a
 * dashboard session, client-credentials tokens), killed with SIGKILL mid-load and restarted on the
 * same file, 5 times (SOAK=1: 20). Afterwards every write a client was told about (a 2xx/303 it
 * received) is still there and works, `PRAGMA integrity_check` is ok after every kill, and every
 * acknowledged key creation has its api_key.created event in the outbox and is delivered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Browser, csrfFrom, registerApp, signUp } from '../support/http.ts';
import { signIn } from '../support/api.ts';
import { basicAuth, type RegisteredApp } from '../support/oauth.ts';
import { ROOMY_LIMITS } from '../support/server.ts';
import { WebhookReceiver, eventOf } from '../support/webhook-receiver.ts';
import { SOAK, sleep, waitFor } from './helpers.ts';
import { spawnServer, type ServerProcess } from './server-process.ts';
import { request } from '../support/world.ts';
import { storedKeyOf } from '../../src/oidc/time-ordered-ids.ts';

const CYCLES = SOAK ? 20 : 5;
const LANES = 12;
const PASSWORD = 'crash safety passphrase';
/**
 * A worker's claim on a delivery holds this long (webhooks/worker.ts lockMs): a killed worker's claims
 * come back after it.
 */
const CLAIM_MS = 20_000; // the webhook worker's claim (lockMs)

interface Acked {
  accounts: string[];
  keys: { id: string; key: string }[];
  tokens: string[];
}

// SQLite only: the server under test is spawned on a SQLite file whatever TEST_DATABASE says, so the
// PostgreSQL run leaves this file out (scripts/run-tests.mjs, SQLITE_ONLY).
describe(`crash safety: SIGKILL under write load, ${CYCLES} times`, { timeout: (SOAK ? 900 : 240) * 1000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-crash-'));
  const file = path.join(dir, 'latchkey.sqlite');
  const env = {
    ...ROOMY_LIMITS,
    DATABASE_URL: `sqlite:${file}`,
    SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
    WEBHOOK_ALLOW_PRIVATE: '1',
    LOG_LEVEL: 'error',
  };
  let receiver: WebhookReceiver;
  let server: ServerProcess | undefined;
  let port: number;
  const acked: Acked = { accounts: [], keys: [], tokens: [] };
  /** The developer whose dashboard session creates keys and whose endpoint receives their events. */
  let owner: Browser;
  let service: RegisteredApp;
  let endpointId: string;
  const kills: { at: number; inFlight: number; acknowledged: number; integrity: string }[] = [];
  let lastKillAt = 0;

  before(async () => {
    receiver = await WebhookReceiver.start();
    server = await spawnServer(env);
    port = server.port;
  });
  after(async () => {
    await server?.kill('SIGKILL');
    await receiver.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = () => `http://127.0.0.1:${port}`;

  /** One write of the load; resolves to whether the client got its acknowledgement. */
  async function write(kind: 'signup' | 'key' | 'token'): Promise<boolean> {
    if (kind === 'signup') {
      const b = new Browser(base());
      const page = await (await b.get('/signup')).text();
      const email = `crash-${crypto.randomBytes(6).toString('hex')}@example.com`;
      const res = await b.postForm('/signup', { _csrf: csrfFrom(page), email, password: PASSWORD });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`sign-up answered ${res.status}`);
      acked.accounts.push(email);
    } else if (kind === 'key') {
      const res = await request(owner, 'POST', '/v2/api-keys', { body: { name: 'crash key', scopes: ['read:users'] } });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`key creation answered ${res.status}: ${text}`);
      acked.keys.push(JSON.parse(text) as { id: string; key: string });
    } else {
      const res = await fetch(`${base()}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(service) },
        body: 'grant_type=client_credentials&scope=read:users',
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`token answered ${res.status}: ${text}`);
      acked.tokens.push((JSON.parse(text) as { access_token: string }).access_token);
    }
    return true;
  }

  it(`keeps every acknowledged write through ${CYCLES} kills (integrity_check ok after each)`, async () => {
    // Setup on the first start: the owner, a service application, a webhook endpoint.
    owner = new Browser(base());
    await signUp(owner, `owner-${crypto.randomBytes(4).toString('hex')}@example.com`, PASSWORD);
    service = await registerApp(owner, {
      name: 'Crash service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    const hook = await request(owner, 'POST', '/v2/webhooks', {
      body: { url: receiver.url(), events: ['api_key.created'] },
    });
    assert.equal(hook.status, 201);
    endpointId = ((await hook.json()) as { id: string }).id;

    const refusals: string[] = [];
    const startMs: number[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      if (cycle > 0) {
        const t0 = Date.now();
        server = await spawnServer({ ...env }, port);
        startMs.push(Date.now() - t0);
      }
      const running = server!;
      let stop = false;
      let inFlight = 0;
      const before = acked.accounts.length + acked.keys.length + acked.tokens.length;
      const load = Promise.all(
        Array.from({ length: LANES }, async (_, lane) => {
          while (!stop) {
            const kind = lane % 6 === 0 ? 'signup' : lane % 2 === 0 ? 'key' : 'token';
            inFlight++;
            try {
              await write(kind);
            } catch (err) {
              // After the kill: connection errors, never acknowledgements. Before it: a refusal is a failure.
              if (!stop) refusals.push(`${kind}: ${(err as Error).message}`);
            } finally {
              inFlight--;
            }
          }
        }),
      );
      // Let the load run until each kind of write has been acknowledged this cycle (at most
      // 15 s), then a random while longer, then kill mid-flight.
      const mark = { accounts: acked.accounts.length, keys: acked.keys.length, tokens: acked.tokens.length };
      await waitFor(
        () =>
          acked.accounts.length > mark.accounts &&
          acked.keys.length > mark.keys + 1 &&
          acked.tokens.length > mark.tokens + 1,
        15_000,
        20,
      );
      await sleep(200 + Math.random() * 1000);
      const atKill = inFlight;
      const killedAt = Date.now();
      stop = true;
      await running.kill('SIGKILL');
      await load;
      lastKillAt = killedAt;
      const integrity = integrityCheck(file);
      kills.push({
        at: killedAt,
        inFlight: atKill,
        acknowledged: acked.accounts.length + acked.keys.length + acked.tokens.length - before,
        integrity,
      });
      assert.equal(integrity, 'ok', `integrity_check after kill ${cycle + 1}`);
      assert.ok(
        running.errors().length === 0,
        `server logged errors before kill ${cycle + 1}: ${running.errors().slice(0, 3).join('\n')}`,
      );
    }
    console.log(`restarts took ${startMs.join(', ')} ms`);
    console.log(`kills: ${kills.map((k) => `${k.acknowledged} acked, ${k.inFlight} in flight`).join('; ')}`);
    console.log(
      `acknowledged: ${acked.accounts.length} sign-ups, ${acked.keys.length} keys, ${acked.tokens.length} tokens`,
    );
    assert.deepEqual(refusals, [], 'no write was refused while the server was up');
    assert.ok(
      kills.every((k) => k.inFlight > 0),
      'every kill hit requests in flight',
    );
    assert.ok(
      acked.keys.length > 0 && acked.tokens.length > 0 && acked.accounts.length > 0,
      'each kind of write was acknowledged',
    );

    // The database as the last kill left it, before any restart: every acknowledged row is there.
    const db = new SQLite(file, { readonly: true, fileMustExist: true });
    try {
      assert.deepEqual(db.pragma('foreign_key_check'), [], 'no dangling references');
      const emails = new Set((db.prepare('SELECT email FROM users').all() as { email: string }[]).map((r) => r.email));
      assert.deepEqual(
        acked.accounts.filter((e) => !emails.has(e)),
        [],
        'acknowledged accounts missing',
      );
      const keyIds = new Set((db.prepare('SELECT id FROM api_keys').all() as { id: string }[]).map((r) => r.id));
      assert.deepEqual(
        acked.keys.filter((k) => !keyIds.has(k.id)).map((k) => k.id),
        [],
        'acknowledged keys missing',
      );
      const tokenHashes = new Set(
        (
          db.prepare("SELECT id_hash FROM oidc_payloads WHERE type = 'ClientCredentials'").all() as {
            id_hash: string;
          }[]
        ).map((r) => r.id_hash),
      );
      assert.deepEqual(
        acked.tokens.filter((t) => !tokenHashes.has(storedKeyOf(t))).length,
        0,
        'acknowledged tokens missing',
      );
    } finally {
      db.close();
    }
  });

  it('serves every acknowledged write after the restart: accounts sign in, keys work, tokens are active', async () => {
    server = await spawnServer({ ...env }, port);
    const failures: string[] = [];
    const queue = [
      ...acked.accounts.map((email) => async () => {
        const res = await signIn(new Browser(base()), email, PASSWORD);
        if (res.status !== 303) failures.push(`account ${email}: ${res.status}`);
      }),
      ...acked.keys.map(({ id, key }) => async () => {
        const res = await fetch(`${base()}/v2/auth/test`, { headers: { Authorization: `Bearer ${key}` } });
        if (res.status !== 200) failures.push(`key ${id}: ${res.status} ${await res.text()}`);
        else await res.arrayBuffer();
      }),
      ...acked.tokens.map((token) => async () => {
        const res = await fetch(`${base()}/oauth/introspect`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: basicAuth(service) },
          body: JSON.stringify({ token }),
        });
        const body = (await res.json()) as { active?: boolean };
        if (body.active !== true) failures.push(`token ${token.slice(0, 8)}…: ${JSON.stringify(body)}`);
      }),
    ];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await job();
      }),
    );
    assert.deepEqual(failures, []);
  });

  it('lost no outbox event: every acknowledged key has its api_key.created event, and it is delivered', async () => {
    // Key ids whose delivery a killed process had claimed: the claim runs out CLAIM_MS after it was made.
    const held = new Set<string>();
    const heldUntil = new Map<string, number>();
    const db = new SQLite(file, { readonly: true, fileMustExist: true });
    try {
      const events = db.prepare("SELECT id, body FROM webhook_events WHERE type = 'api_key.created'").all() as {
        id: string;
        body: string;
      }[];
      const eventOfKey = new Map(events.map((e) => [(JSON.parse(e.body) as { data: { id: string } }).data.id, e.id]));
      assert.deepEqual(
        acked.keys.filter((k) => !eventOfKey.has(k.id)).map((k) => k.id),
        [],
        'acknowledged keys without their event',
      );
      const rows = db
        .prepare('SELECT event_id, status, locked_until FROM webhook_deliveries WHERE endpoint_id = ?')
        .all(endpointId) as { event_id: string; status: string; locked_until: number | null }[];
      const deliveries = new Map(rows.map((d) => [d.event_id, d]));
      assert.deepEqual(
        acked.keys.filter((k) => !deliveries.has(eventOfKey.get(k.id)!)).map((k) => k.id),
        [],
        'events without a delivery to the endpoint',
      );
      for (const k of acked.keys) {
        const d = deliveries.get(eventOfKey.get(k.id)!)!;
        if (
          d.status === 'pending' &&
          d.locked_until !== null &&
          d.locked_until > Date.now() &&
          d.locked_until <= lastKillAt + CLAIM_MS
        ) {
          held.add(k.id);
          heldUntil.set(k.id, d.locked_until);
        }
      }
    } finally {
      db.close();
    }
    const undelivered = () => {
      const seen = new Set(
        receiver.requests.filter((r) => r.answered === 200).map((r) => (eventOf(r).data as { id: string }).id),
      );
      return acked.keys.map((k) => k.id).filter((id) => !seen.has(id));
    };
    // Everything not held by a dead process's claim arrives within a few worker passes. In soak
    // mode the claims are waited out too (they come back by themselves within CLAIM_MS).
    const delivered = await waitFor(() => undelivered().every((id) => held.has(id)), 30_000, 200);
    console.log(
      `webhooks: ${receiver.requests.length} deliveries received for ${acked.keys.length} acknowledged keys; ` +
        `${held.size} held by a killed process's claim ` +
        `(${[...held].filter((id) => undelivered().includes(id)).length} of them not yet received)`,
    );
    assert.ok(
      delivered,
      `undelivered: ${undelivered()
        .filter((id) => !held.has(id))
        .slice(0, 5)
        .join(', ')}`,
    );
    // Claims that run out soon are waited for in CI too: a dead process's claim does come back.
    const soon = [...held].filter(
      (id) => undelivered().includes(id) && (heldUntil.get(id) ?? Infinity) <= Date.now() + 10_000,
    );
    if (soon.length) {
      const back = await waitFor(() => soon.every((id) => !undelivered().includes(id)), 25_000, 200);
      assert.ok(
        back,
        `claims ran out but not delivered: ${soon.filter((id) => undelivered().includes(id)).join(', ')}`,
      );
    }
    if (SOAK && held.size) {
      const all = await waitFor(() => undelivered().length === 0, lastKillAt + CLAIM_MS - Date.now() + 15_000, 500);
      assert.ok(all, `undelivered after the claims ran out: ${undelivered().slice(0, 5).join(', ')}`);
    }
  });
});

/** `PRAGMA integrity_check` on a read-only connection, as the file is now. */
function integrityCheck(file: string): string {
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
