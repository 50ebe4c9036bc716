import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestServer, type TestServer, type TestServerOptions } from '../../../test/support/server.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { dumpDatabase, sqliteFileOf } from '../../../test/support/db-dump.ts';
import { createSecretBox } from '../../shared/encryption.ts';
import { codeFlow, refresh, token } from '../../../test/support/oauth.ts';
import { registerApp } from '../../../test/support/http.ts';
import {
  WebhookReceiver,
  eventOf,
  documentedAccepts,
  standardAccepts,
  standardVerify,
  type ReceivedWebhook,
} from '../../../test/support/webhook-receiver.ts';
import {
  worldOn,
  credentialServerEnv,
  type World,
  type TestUser,
  request,
  REDIRECT_URI,
} from '../../../test/support/world.ts';

// Webhooks end to end: real endpoints registered over /v2/webhooks, real events caused
// through the API and the OAuth flow, delivered by the server's worker to a real local receiver and
// verified with the documented function and the standardwebhooks package. Time is the injected clock;
// the background loop is kept out of the way (webhookPollMs: 1 h) and tests call tick()/drain().

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const SCHEDULE = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
const SECRET_SHAPE = /^whsec_[A-Za-z0-9+/]{43}=$/;
const USER_EVENTS = [
  'api_key.created',
  'api_key.revoked',
  'api_key.rotated',
  'application.created',
  'application.deleted',
  'application.secret_rotated',
  'consent.granted',
  'consent.revoked',
  'grant.revoked',
];

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  status: string;
  secret?: string;
  failing_since: string | null;
  disabled_reason: string | null;
}
interface Attempt {
  attempt: number;
  at: string;
  response_code: number | null;
  latency_ms: number;
  error: string | null;
}
interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  error: string | null;
  next_attempt_at: string | null;
  attempt_log: Attempt[];
}

async function json<T>(res: Pick<Response, 'status' | 'text'>, status: number): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}
const register = async (u: TestUser, url: string, events: string[] = ['*']) =>
  json<Endpoint & { secret: string }>(await u.browser.postJson('/v2/webhooks', { url, events }), 201);
const deliveries = async (u: TestUser, id: string) =>
  (await json<{ data: Delivery[] }>(await request(u.browser, 'GET', `/v2/webhooks/${id}/deliveries`), 200)).data;
const getEndpoint = async (u: TestUser, id: string) =>
  json<Endpoint>(await request(u.browser, 'GET', `/v2/webhooks/${id}`), 200);
const newKey = async (u: TestUser, name = 'k') =>
  json<{ id: string; key: string }>(await u.browser.postJson('/v2/api-keys', { name, scopes: ['read:users'] }), 201);

/** Every check a receiver makes of every delivery. */
function assertGenuine(r: ReceivedWebhook, secret: string, opts: { standard?: boolean } = {}) {
  assert.equal(r.method, 'POST');
  assert.match(r.headers['content-type'] ?? '', /^application\/json/);
  const event = eventOf(r);
  assert.deepEqual(Object.keys(event), ['id', 'type', 'created_at', 'data']);
  assert.equal(JSON.stringify(JSON.parse(r.body)), r.body, 're-serialising the parsed body gives the same bytes');
  assert.equal(r.headers['webhook-id'], event.id);
  assert.match(r.headers['webhook-timestamp'] ?? '', /^\d{10}$/);
  assert.ok(documentedAccepts(r, secret), `body-only verifier accepts ${event.type}`);
  if (opts.standard !== false)
    assert.doesNotThrow(() => standardVerify(r, secret), `standardwebhooks accepts ${event.type}`);
}

describe('webhooks', () => {
  let clock = Date.now();
  let server: TestServer;
  let make: World;
  const receivers: WebhookReceiver[] = [];
  const receiver = async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    return r;
  };
  const worker = () => server.built.webhookWorker;
  /** Drains until `cond` holds (events written by oidc-provider's event handlers land a moment later). */
  async function until(cond: () => boolean, what: string) {
    for (const end = Date.now() + 5_000; !cond(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await worker().drain();
    }
  }

  before(async () => {
    server = await startTestServer({
      env: {
        ...credentialServerEnv,
        WEBHOOK_ALLOW_PRIVATE: '1',
        REFRESH_TOKEN_REUSE_GRACE: '0',
        WEBHOOK_SECRET_OVERLAP: '60',
      },
      now: () => clock,
      webhookPollMs: HOUR,
    });
    make = worldOn(server);
  });
  beforeEach(() => {
    clock = Date.now(); // standardwebhooks checks timestamps against real time
  });
  after(async () => {
    await server.dispose();
    await Promise.all(receivers.map((r) => r.close()));
  });

  describe('endpoints over /v2/webhooks', () => {
    it('creates with the secret shown once; get, list, update, delete never show it', async () => {
      const alice = await make.user({ tag: 'alice' });
      const r = await receiver();
      const res = await alice.browser.postJson('/v2/webhooks', {
        url: r.url(),
        events: ['api_key.created', 'consent.granted'],
        description: 'mine',
      });
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const created = await json<Endpoint & { secret: string }>(res, 201);
      assert.match(created.secret, SECRET_SHAPE);
      assert.equal(created.url, r.url());
      assert.deepEqual(created.events, ['api_key.created', 'consent.granted']);
      assert.equal(created.status, 'active');

      for (const p of [`/v2/webhooks/${created.id}`, '/v2/webhooks']) {
        const text = await (await request(alice.browser, 'GET', p)).text();
        assert.ok(text.includes(created.id), p);
        assert.ok(
          !text.includes(created.secret) && !text.includes(created.secret.slice(6)),
          `${p} never shows the secret`,
        );
        assert.ok(!text.includes('"secret"'), p);
      }
      const patched = await json<Endpoint>(
        await request(alice.browser, 'PATCH', `/v2/webhooks/${created.id}`, { body: { events: ['*'] } }),
        200,
      );
      assert.deepEqual(patched.events, ['*']);
      assert.equal((patched as { secret?: string }).secret, undefined);
      assert.equal((await request(alice.browser, 'DELETE', `/v2/webhooks/${created.id}`)).status, 204);
      // Gone: refused like any endpoint that is not hers (403, the documented body), which says nothing of existence.
      await expectApiError(await request(alice.browser, 'GET', `/v2/webhooks/${created.id}`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
    });

    it('refuses bad input with 400 naming the field', async () => {
      const u = await make.user();
      const post = (body: unknown) => u.browser.postJson('/v2/webhooks', body);
      await expectApiError(await post({ url: 'not a url', events: ['*'] }), 400, 'VALIDATION_FAILED', { field: 'url' });
      await expectApiError(await post({ url: 'ftp://127.0.0.1/hook', events: ['*'] }), 400, 'VALIDATION_FAILED', {
        field: 'url',
      });
      const unknown = await expectApiError(
        await post({ url: 'https://example.com/hook', events: ['api_key.created', 'user.exploded'] }),
        400,
        'VALIDATION_FAILED',
      );
      assert.match(unknown.error.field ?? '', /^events/);
      await expectApiError(await post({ url: 'https://example.com/hook', events: [] }), 400, 'VALIDATION_FAILED', {
        field: 'events',
      });
      await expectApiError(await post({ url: 'https://example.com/hook' }), 400, 'VALIDATION_FAILED', {
        field: 'events',
      });
      assert.equal((await request(u.browser, 'GET', '/v2/webhooks')).status, 200);
      assert.deepEqual(
        (await json<{ data: unknown[] }>(await request(u.browser, 'GET', '/v2/webhooks'), 200)).data,
        [],
        'nothing was created',
      );
    });

    it("answers 403 (the documented body) for another user's endpoint, whatever the operation", async () => {
      const owner = await make.user();
      const other = await make.user();
      const ep = await register(owner, (await receiver()).url());
      for (const [method, p, body] of [
        ['GET', `/v2/webhooks/${ep.id}`],
        ['PATCH', `/v2/webhooks/${ep.id}`, { events: ['*'] }],
        ['DELETE', `/v2/webhooks/${ep.id}`],
        ['POST', `/v2/webhooks/${ep.id}/secret`],
        ['GET', `/v2/webhooks/${ep.id}/deliveries`],
      ] as const) {
        await expectApiError(await request(other.browser, method, p, { body }), 403, 'FORBIDDEN', {
          message: 'Insufficient permissions for this operation',
        });
      }
      assert.equal((await getEndpoint(owner, ep.id)).status, 'active', 'untouched');
    });

    it('needs a dashboard session or admin:all: an API key without admin:all is 403', async () => {
      const u = await make.user();
      const admin = await make.user({ admin: true });
      const { key } = await make.apiKey(u, ['read:users', 'write:users']);
      await expectApiError(
        await fetch(`${server.url}/v2/webhooks`, { headers: { Authorization: `Bearer ${key}` } }),
        403,
        'FORBIDDEN',
      );
      const post = await request(server, 'POST', '/v2/webhooks', {
        bearer: key,
        body: { url: 'https://example.com/h', events: ['*'] },
      });
      assert.equal(post.status, 403);
      assert.equal((await request(server, 'GET', '/v2/webhooks')).status, 401);
      const adminKey = (await make.apiKey(admin, ['admin:all'])).key;
      const created = await request(server, 'POST', '/v2/webhooks', {
        bearer: adminKey,
        body: {
          url: 'https://example.com/h',
          events: ['user.signed_up'],
        },
      });
      assert.equal(created.status, 201);
      await request(server, 'DELETE', `/v2/webhooks/${String(created.body!['id'])}`, { bearer: adminKey });
    });
  });

  describe('https required unless WEBHOOK_ALLOW_PRIVATE', () => {
    let strict: TestServer;
    before(async () => {
      strict = await startTestServer({ env: credentialServerEnv, webhookPollMs: HOUR });
    });
    after(() => strict.dispose());
    it('refuses http:// and accepts https:// to a public host', async () => {
      const u = await worldOn(strict).user();
      await expectApiError(
        await u.browser.postJson('/v2/webhooks', { url: 'http://example.com/hook', events: ['*'] }),
        400,
        'VALIDATION_FAILED',
        { field: 'url' },
      );
      const ok = await u.browser.postJson('/v2/webhooks', {
        url: 'https://example.com/hook',
        events: ['api_key.created'],
      });
      assert.equal(ok.status, 201, await ok.text());
    });
  });

  it(
    'delivers every event type to a subscribed receiver, verifiable by both schemes, with no secret in any ' + 'body',
    async () => {
      const admin = await make.user({ admin: true, tag: 'admin' });
      const alice = await make.user({ tag: 'events' });
      const rAlice = await receiver();
      const rAdmin = await receiver();
      const epAlice = await register(alice, rAlice.url());
      const epAdmin = await register(admin, rAdmin.url());
      const secrets: string[] = [epAlice.secret, epAdmin.secret];

      // API keys: created, rotated, revoked.
      const k = await newKey(alice);
      const rotated = await json<{ id: string; key: string }>(
        await alice.browser.postJson(`/v2/api-keys/${k.id}/rotate`, {}),
        201,
      );
      assert.equal((await request(alice.browser, 'DELETE', `/v2/api-keys/${rotated.id}`)).status, 200);
      secrets.push(k.key, rotated.key);

      // Applications: created, secret rotated; consent granted through the browser flow.
      const app = await registerApp(alice.browser, {
        name: 'Hooked app',
        redirect_uris: [REDIRECT_URI],
        scopes: ['read:users'],
      });
      const newSecret = await json<{ client_secret: string }>(
        await alice.browser.postJson(`/oauth/applications/${app.client_id}/secret`, {}),
        200,
      );
      const client = { client_id: app.client_id, client_secret: newSecret.client_secret };
      secrets.push(app.client_secret!, newSecret.client_secret);
      const first = await codeFlow(server, client, alice);
      secrets.push(first.access_token, first.refresh_token!);
      // Refresh-token reuse (grace 0) revokes the grant.
      const second = await refresh(server, client, first.refresh_token!);
      secrets.push(second.access_token, second.refresh_token!);
      assert.equal(
        (await token(server, client, { grant_type: 'refresh_token', refresh_token: first.refresh_token })).status,
        400,
      );
      await until(() => rAlice.types().includes('grant.revoked'), 'grant.revoked');
      // Consent again, then the user takes it back.
      const again = await codeFlow(server, client, alice);
      secrets.push(again.access_token, again.refresh_token!);
      assert.equal((await request(alice.browser, 'DELETE', `/v2/consents/${app.client_id}`)).status, 204);
      assert.equal((await request(alice.browser, 'DELETE', `/oauth/applications/${app.client_id}`)).status, 204);
      // A sign-up goes to the admins' endpoints.
      const bob = await make.user({ tag: 'bob' });
      await worker().drain();

      assert.deepEqual([...new Set(rAlice.types())].sort(), [...USER_EVENTS].sort());
      assert.ok(!rAlice.types().includes('user.signed_up'), 'sign-ups go only to admins');
      const signup = rAdmin.requests
        .map(eventOf)
        .find((e) => e.type === 'user.signed_up' && e.data['email'] === bob.email);
      assert.ok(signup, 'the admin endpoint got user.signed_up');
      assert.equal(signup.data['id'], bob.id);

      for (const r of rAlice.requests) assertGenuine(r, epAlice.secret);
      for (const r of rAdmin.requests) assertGenuine(r, epAdmin.secret);
      const all = [...rAlice.requests, ...rAdmin.requests];
      assert.equal(
        new Set(all.map((r) => r.headers['webhook-id'])).size,
        all.length,
        'one delivery per event and endpoint',
      );
      for (const r of all)
        for (const s of secrets) assert.ok(!r.body.includes(s), `${eventOf(r).type} body carries no secret`);
      for (const s of secrets)
        assert.ok(!JSON.stringify(all.map((r) => r.headers)).includes(s), 'no secret in any header');
      assert.ok(
        (await deliveries(alice, epAlice.id)).every(
          (d) => d.status === 'succeeded' && d.attempts === 1 && d.response_code === 200,
        ),
      );
    },
  );

  it('sends only the events an endpoint subscribed to', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    await newKey(u);
    await registerApp(u.browser, { name: 'Unwanted', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
    await worker().drain();
    assert.deepEqual(r.types(), ['api_key.created']);
    assert.deepEqual(
      (await deliveries(u, ep.id)).map((d) => d.event_type),
      ['api_key.created'],
    );
  });

  it('retries a 500 after 5 s, not before, with the same webhook-id; the log tells the story', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    r.respond(500);
    await newKey(u);
    await worker().tick();
    assert.equal(r.requests.length, 1);
    let [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'pending');
    assert.equal(d!.attempts, 1);
    assert.equal(d!.response_code, 500);
    assert.match(d!.error ?? '', /500/);
    assert.equal(d!.next_attempt_at, new Date(clock + 5 * SECOND).toISOString());

    r.respond(200);
    clock += 5 * SECOND - 1;
    await worker().drain();
    assert.equal(r.requests.length, 1, 'no retry before 5 s');
    clock += 1;
    await worker().drain();
    assert.equal(r.requests.length, 2);
    assert.equal(r.requests[0]!.headers['webhook-id'], r.requests[1]!.headers['webhook-id']);
    assert.equal(r.requests[0]!.body, r.requests[1]!.body);
    for (const req of r.requests) assertGenuine(req, ep.secret);

    [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'succeeded');
    assert.equal(d!.attempts, 2);
    assert.equal(d!.response_code, 200);
    assert.equal(typeof d!.latency_ms, 'number');
    assert.equal(d!.next_attempt_at, null);
    assert.equal(d!.event_id, r.requests[0]!.headers['webhook-id']);
    // The log keeps every attempt: the earlier error is still there after the success.
    assert.deepEqual(
      d!.attempt_log.map((a) => [a.attempt, a.response_code, a.error]),
      [
        [1, 500, 'HTTP 500'],
        [2, 200, null],
      ],
    );
    assert.ok(d!.attempt_log.every((a) => typeof a.latency_ms === 'number' && !Number.isNaN(Date.parse(a.at))));
  });

  it('delivers exactly once to a receiver that was down (connection refused), then up', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    await r.down();
    await newKey(u);
    await worker().tick();
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'pending');
    assert.equal(d!.response_code, null);
    assert.match(d!.error ?? '', /ECONNREFUSED/);
    assert.equal(d!.attempt_log.length, 1);
    await r.up();
    clock += 5 * SECOND;
    await worker().drain();
    clock += 2 * HOUR;
    await worker().drain();
    assert.equal(r.requests.length, 1, 'delivered once');
    assertGenuine(r.requests[0]!, ep.secret, { standard: false });
    assert.equal((await deliveries(u, ep.id))[0]!.status, 'succeeded');
  });

  it('never sends one delivery twice when two passes run at once', async () => {
    const u = await make.user();
    const r = await receiver();
    r.delay(30);
    const ep = await register(u, r.url(), ['api_key.created']);
    for (let i = 0; i < 15; i++) await newKey(u, `k${i}`);
    await Promise.all([worker().tick(), worker().tick(), worker().drain(), worker().tick()]);
    await worker().drain();
    assert.equal(r.requests.length, 15);
    assert.equal(new Set(r.requests.map((x) => x.headers['webhook-id'])).size, 15);
    assert.ok((await deliveries(u, ep.id)).every((d) => d.status === 'succeeded' && d.attempts === 1));
  });

  it('gives up after the last retry (status failed), following the schedule exactly', async () => {
    const u = await make.user();
    const r = await receiver();
    r.respond(500);
    const ep = await register(u, r.url(), ['api_key.created']);
    await newKey(u);
    await worker().tick();
    for (const [i, wait] of SCHEDULE.entries()) {
      clock += wait - 1;
      await worker().drain();
      assert.equal(r.requests.length, i + 1, `no attempt before ${wait} ms`);
      clock += 1;
      await worker().drain();
      assert.equal(r.requests.length, i + 2, `retry ${i + 1} after ${wait} ms`);
    }
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'failed');
    assert.equal(d!.attempts, 8);
    assert.equal(d!.next_attempt_at, null);
    assert.deepEqual(
      d!.attempt_log.map((a) => a.attempt),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.ok(d!.attempt_log.every((a) => a.response_code === 500 && a.error === 'HTTP 500'));
    clock += 100 * HOUR;
    await worker().drain();
    assert.equal(r.requests.length, 8, 'no attempt after giving up');
    assert.equal(
      new Set(r.requests.map((x) => x.headers['webhook-id'])).size,
      1,
      'every attempt had the same webhook-id',
    );
    assert.equal((await getEndpoint(u, ep.id)).status, 'active', 'under WEBHOOK_DISABLE_AFTER (5 days): still active');
  });

  it('redelivers a succeeded delivery with the same webhook-id; a pending one is 409', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    await newKey(u);
    await worker().drain();
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'succeeded');
    const res = await u.browser.postJson(`/v2/webhooks/${ep.id}/deliveries/${d!.id}/redeliver`, {});
    assert.deepEqual(await json(res, 202), { queued: true });
    await worker().drain();
    assert.equal(r.requests.length, 2);
    assert.equal(r.requests[1]!.headers['webhook-id'], r.requests[0]!.headers['webhook-id']);
    assert.equal(r.requests[1]!.body, r.requests[0]!.body);
    assertGenuine(r.requests[1]!, ep.secret);
    assert.equal((await deliveries(u, ep.id))[0]!.status, 'succeeded');

    r.respond(500);
    await newKey(u);
    await worker().tick();
    const pending = (await deliveries(u, ep.id)).find((x) => x.status === 'pending')!;
    await expectApiError(
      await u.browser.postJson(`/v2/webhooks/${ep.id}/deliveries/${pending.id}/redeliver`, {}),
      409,
      'CONFLICT',
    );
    await expectApiError(
      await u.browser.postJson(`/v2/webhooks/${ep.id}/deliveries/dlv_nope/redeliver`, {}),
      404,
      'NOT_FOUND',
    );
    r.respond(200);
  });

  it('signs with both secrets during the rotation overlap, then only the new one', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    const old = ep.secret;
    const res = await u.browser.postJson(`/v2/webhooks/${ep.id}/secret`, {});
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const rotated = await json<{ secret: string; previous_secret_expires_at: string }>(res, 200);
    assert.match(rotated.secret, SECRET_SHAPE);
    assert.notEqual(rotated.secret, old);
    assert.equal(rotated.previous_secret_expires_at, new Date(clock + 60 * SECOND).toISOString());
    assert.ok(!(await (await request(u.browser, 'GET', `/v2/webhooks/${ep.id}`)).text()).includes(rotated.secret));

    await newKey(u);
    await worker().drain();
    const during = r.requests[0]!;
    assert.equal(during.headers['webhook-signature']!.split(' ').filter((s) => s.startsWith('v1,')).length, 2);
    assert.ok(standardAccepts(during, old), 'standardwebhooks: old secret');
    assert.ok(standardAccepts(during, rotated.secret), 'standardwebhooks: new secret');
    assert.ok(documentedAccepts(during, rotated.secret), 'x-webhook-signature: new secret');
    assert.ok(!documentedAccepts(during, old));

    clock += 60 * SECOND;
    await newKey(u);
    await worker().drain();
    const later = r.requests[1]!;
    assert.equal(later.headers['webhook-signature']!.split(' ').length, 1);
    assert.ok(standardAccepts(later, rotated.secret));
    assert.ok(!standardAccepts(later, old), 'the old secret no longer verifies');
    assert.ok(documentedAccepts(later, rotated.secret));
  });

  it('receiver-side helpers refuse tampered and replayed deliveries', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    await newKey(u);
    await worker().drain();
    const genuine = r.requests[0]!;
    assertGenuine(genuine, ep.secret);
    // One byte changed (still valid JSON): both verifiers refuse.
    const at = genuine.body.indexOf('"api_key.created"') + 1;
    const tampered = { ...genuine, body: `${genuine.body.slice(0, at)}A${genuine.body.slice(at + 1)}` };
    assert.doesNotThrow(() => JSON.parse(tampered.body));
    assert.ok(!documentedAccepts(tampered, ep.secret), 'body-only verifier refuses the altered body');
    assert.ok(!standardAccepts(tampered, ep.secret), 'standardwebhooks refuses the altered body');
    assert.ok(
      !standardAccepts({ ...genuine, headers: { ...genuine.headers, 'webhook-id': 'evt_other' } }, ep.secret),
      'another id',
    );
    assert.ok(!documentedAccepts(genuine, `whsec_${Buffer.alloc(32).toString('base64')}`), 'another secret');

    // A delivery signed 10 minutes ago and replayed now: standardwebhooks refuses its timestamp.
    clock = Date.now() - 10 * MINUTE;
    await newKey(u);
    await worker().drain();
    const stale = r.requests[1]!;
    assert.ok(documentedAccepts(stale, ep.secret), 'the signature itself is genuine');
    assert.throws(() => standardVerify(stale, ep.secret), /too old/);
    // And one stamped 10 minutes in the future.
    clock = Date.now() + 10 * MINUTE;
    await newKey(u);
    await worker().drain();
    assert.throws(() => standardVerify(r.requests[2]!, ep.secret), /too new/);
  });

  it(
    'keeps webhook secrets encrypted at rest under a key kept out of the database (SQLite: a key file beside it, ' +
      'mode 0600)',
    async () => {
      const u = await make.user();
      const ep = await register(u, (await receiver()).url(), ['api_key.created']);
      const rotated = await json<{ secret: string }>(await u.browser.postJson(`/v2/webhooks/${ep.id}/secret`, {}), 200);
      const values = await dumpDatabase(server.db);
      for (const s of [ep.secret, rotated.secret]) {
        const hit = values.find((v) => v.value.includes(s) || v.value.includes(s.slice('whsec_'.length)));
        assert.equal(hit, undefined, `secret found in ${hit?.table}.${hit?.column}`);
      }
      const sealed = values.filter((v) => v.table === 'webhook_endpoints' && /secret_enc$/.test(v.column));
      assert.ok(sealed.length >= 2);
      for (const v of sealed) assert.match(v.value, /^v1\.[\w-]+\.[\w-]+$/, `${v.column} is sealed`);
      let key: string;
      const file = sqliteFileOf(server);
      if (file) {
        // No SECRETS_KEY given: generated once into a key file beside the database.
        assert.equal(server.config.SECRETS_KEY, undefined);
        const keyFile = path.join(path.dirname(file), 'latchkey.secrets.key');
        assert.equal(server.config.secretsKeyFile, keyFile);
        assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
        key = fs.readFileSync(keyFile, 'utf8').trim();
      } else {
        // PostgreSQL (several instances share it): the key is SECRETS_KEY, from the environment.
        assert.ok(server.config.SECRETS_KEY, 'SECRETS_KEY is set');
        key = server.config.SECRETS_KEY.toString('base64');
      }
      assert.ok(!values.some((v) => v.value.includes(key)), 'the key is not in the database');
      // And it is the key that opens them: the endpoint's current and previous secrets.
      const box = createSecretBox(Buffer.from(key, 'base64'));
      const mine = sealed.filter((v) => [ep.secret, rotated.secret].includes(box.open(v.value)));
      assert.deepEqual(mine.map((v) => box.open(v.value)).sort(), [ep.secret, rotated.secret].sort());
    },
  );
});

describe('webhooks across restarts, concurrent workers and failing endpoints', () => {
  const receivers: WebhookReceiver[] = [];
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers.reverse()) await s.dispose();
    await Promise.all(receivers.map((r) => r.close()));
  });
  const boot = async (opts: TestServerOptions) => {
    const s = await startTestServer({
      ...opts,
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1', ...opts?.env },
    });
    servers.push(s);
    return s;
  };
  const receiver = async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    return r;
  };

  it('resumes a retry schedule after a server restart: delivered once, same webhook-id', async () => {
    let clock = Date.now();
    const first = await boot({ now: () => clock, webhookPollMs: HOUR });
    const u = await worldOn(first).user();
    const r = await receiver();
    const ep = await register(u, r.url(), ['api_key.created']);
    r.respond(500);
    await newKey(u);
    await first.built.webhookWorker.tick();
    assert.equal(r.requests.length, 1);

    const second = await first.restart();
    servers.splice(servers.indexOf(first), 1, second);
    r.respond(200);
    clock += 5 * SECOND;
    await second.built.webhookWorker.drain();
    clock += HOUR;
    await second.built.webhookWorker.drain();
    assert.equal(r.requests.length, 2);
    assert.equal(r.requests.filter((x) => x.answered === 200).length, 1, 'delivered once');
    assert.equal(r.requests[1]!.headers['webhook-id'], r.requests[0]!.headers['webhook-id']);
    assertGenuine(r.requests[1]!, ep.secret);
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'succeeded');
    assert.equal(d!.attempts, 2);
  });

  it('never delivers twice with fast background loops on two servers sharing the database, plus drain()', async () => {
    const a = await boot({ webhookPollMs: 50 });
    const b = await boot({ webhookPollMs: 50, dir: a.dir, database: a.database });
    servers.splice(servers.indexOf(b), 1); // shares a's folder and database: close it, do not delete them
    try {
      const u = await worldOn(a).user();
      const r = await receiver();
      r.delay(20);
      await register(u, r.url(), ['api_key.created']);
      for (let i = 0; i < 20; i++) await newKey(u, `k${i}`);
      await Promise.all([a.built.webhookWorker.drain(), b.built.webhookWorker.drain(), a.built.webhookWorker.drain()]);
      for (const end = Date.now() + 5_000; r.requests.length < 20 && Date.now() < end; )
        await new Promise((res) => setTimeout(res, 20));
      await new Promise((res) => setTimeout(res, 300)); // a few more loop turns: nothing else may arrive
      assert.equal(r.requests.length, 20);
      assert.equal(new Set(r.requests.map((x) => x.headers['webhook-id'])).size, 20);
    } finally {
      await b.close();
    }
  });

  it('disables an endpoint failing for WEBHOOK_DISABLE_AFTER, says so, and resumes when re-enabled', async () => {
    // Failures start 2 h 35 min in the past, so the disabling attempt happens at about real time.
    const disablingAttempt = SCHEDULE.slice(0, 4).reduce((a, b) => a + b, 0);
    let clock = Date.now() - disablingAttempt;
    const s = await boot({ now: () => clock, webhookPollMs: HOUR, env: { WEBHOOK_DISABLE_AFTER: '3600' } });
    const w = s.built.webhookWorker;
    const u = await worldOn(s).user();
    const failing = await receiver();
    const watcher = await receiver();
    failing.respond(500);
    const ep = await register(u, failing.url(), ['api_key.created']);
    const ep2 = await register(u, watcher.url(), ['webhook_endpoint.disabled']);
    await newKey(u);
    await w.tick();
    for (const wait of SCHEDULE.slice(0, 3)) {
      clock += wait;
      await w.drain();
    }
    assert.equal((await getEndpoint(u, ep.id)).status, 'active', 'failing for 35 min: still active');
    assert.equal(watcher.requests.length, 0);
    clock += SCHEDULE[3]!;
    await w.drain();
    assert.equal(failing.requests.length, 5);
    const disabled = await getEndpoint(u, ep.id);
    assert.equal(disabled.status, 'disabled');
    assert.ok(disabled.disabled_reason);
    assert.ok(disabled.failing_since);
    assert.deepEqual(watcher.types(), ['webhook_endpoint.disabled']);
    assertGenuine(watcher.requests[0]!, ep2.secret);
    assert.equal(eventOf(watcher.requests[0]!).data['id'], ep.id);
    // The owner's audit trail says the server did it, and why.
    const [recorded] = await s.built.services.auditLog.list(
      { accountId: u.id, types: ['webhook_endpoint.changed'], actorType: 'system' },
      { limit: 5 },
    );
    assert.equal(recorded?.target?.id, ep.id);
    assert.equal(recorded?.data['status'], 'disabled');

    // Disabled: nothing is attempted, even when the retry falls due.
    failing.respond(200);
    clock += SCHEDULE[4]!;
    await w.drain();
    assert.equal(failing.requests.length, 5);
    // Re-enabled: the pending delivery goes out, once.
    const enabled = await json<Endpoint>(
      await request(u.browser, 'PATCH', `/v2/webhooks/${ep.id}`, { body: { status: 'active' } }),
      200,
    );
    assert.equal(enabled.status, 'active');
    assert.equal(enabled.failing_since, null);
    await w.drain();
    clock += 10 * HOUR;
    await w.drain();
    assert.equal(failing.requests.length, 6);
    assert.equal(failing.requests[5]!.headers['webhook-id'], failing.requests[0]!.headers['webhook-id']);
    assertGenuine(failing.requests[5]!, ep.secret, { standard: false });
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'succeeded');
    assert.equal(d!.attempts, 6);
  });
});
