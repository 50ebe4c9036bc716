import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, csrfFrom } from '../../test/support/http.ts';
import { WebhookReceiver } from '../../test/support/webhook-receiver.ts';
import { spawnNode } from '../../test/support/process.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { request, worldOn, credentialServerEnv, type World, type TestUser } from '../../test/support/world.ts';

// GET /metrics (Prometheus text, prom-client): requests by route template and status with latency
// histograms, tokens by grant, logins by result, rate-limit refusals, webhook deliveries, outbox
// depth; served to loopback callers, or to a bearer of METRICS_TOKEN when that is set.

/** The value of the sample `name{labels...}` (0 when absent); every given label must match. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

/** A request without any forwarding header (fetch adds none either, but this is explicit). */
function rawGet(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => (body += d))
          .on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      })
      .on('error', reject);
  });
}

describe('/metrics', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let receiver: WebhookReceiver;
  const scrape = async () => {
    const res = await rawGet(`${server.url}/metrics`);
    assert.equal(res.status, 200, res.body);
    return res.body;
  };

  before(async () => {
    server = await startTestServer({
      // Unauthenticated /v2 callers: 2 a second, so a burst of 4 meets the limit.
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1', RATE_LIMIT_UNAUTHENTICATED: '1000000,2' },
      webhookPollMs: 3_600_000,
    });
    make = worldOn(server);
    alice = await make.user({ tag: 'alice' });
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await receiver.close();
    await server.dispose();
  });

  it('answers loopback callers in Prometheus text format', async () => {
    const res = await rawGet(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(res.body, /^# HELP http_requests_total /m);
    assert.match(res.body, /^# TYPE http_request_duration_seconds histogram$/m);
    for (const name of [
      'oauth_tokens_issued_total',
      'logins_total',
      'rate_limit_refusals_total',
      'webhook_deliveries_total',
      'webhook_outbox_depth',
    ]) {
      assert.match(res.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });

  it('refuses a caller that came through a proxy (forwarding headers), without METRICS_TOKEN', async () => {
    assert.equal((await rawGet(`${server.url}/metrics`, { 'X-Forwarded-For': '203.0.113.9' })).status, 403);
    assert.equal((await rawGet(`${server.url}/metrics`, { Forwarded: 'for=203.0.113.9' })).status, 403);
  });

  it('labels requests by route template, never by the raw path', async () => {
    const key = await make.apiKey(alice, ['read:projects']);
    const id = crypto.randomUUID();
    const before = await scrape();
    const res = await request(server, 'GET', `/v2/projects/${id}`, { bearer: key.key });
    assert.equal(res.status, 403);
    await fetch(`${server.url}/no/such/${id}`).then((r) => r.arrayBuffer());
    await fetch(`${server.url}/oauth/jwks`).then((r) => r.arrayBuffer());
    const text = await scrape();
    const labels = { method: 'GET', route: '/v2/projects/:id', status: '403' };
    assert.equal(sample(text, 'http_requests_total', labels) - sample(before, 'http_requests_total', labels), 1);
    assert.equal(
      sample(text, 'http_request_duration_seconds_count', labels) -
        sample(before, 'http_request_duration_seconds_count', labels),
      1,
    );
    assert.ok(sample(text, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }) >= 1);
    assert.ok(sample(text, 'http_requests_total', { route: 'other', status: '404' }) >= 1);
    assert.ok(sample(text, 'http_requests_total', { route: 'oauth', status: '200' }) >= 1);
    assert.ok(!text.includes(id), 'no id from a path appears in a label');
  });

  it('counts tokens issued by grant type', async () => {
    const before = await scrape();
    await make.serviceToken(alice, ['read:users']);
    await make.oauthToken(alice, ['read:users']);
    const text = await scrape();
    const delta = (grant: string) =>
      sample(text, 'oauth_tokens_issued_total', { grant }) - sample(before, 'oauth_tokens_issued_total', { grant });
    assert.equal(delta('client_credentials'), 1);
    assert.equal(delta('authorization_code'), 1);
  });

  it('counts logins: success, failure and throttled', async () => {
    const before = await scrape();
    const bob = await make.user({ tag: 'bob' }); // signs in once through /login
    const browser = new Browser(server.url); // signed out
    // The throttle's minute is a clock minute: start the five attempts well inside one, so a
    // loaded machine cannot spread them over two (which would allow more than 3 checks).
    const leftInMinute = 60_000 - (Date.now() % 60_000);
    if (leftInMinute < 20_000) await new Promise((r) => setTimeout(r, leftInMinute + 50));
    for (let i = 0; i < 5; i++) {
      const page = await (await browser.get('/login')).text();
      await browser.postForm('/login', { _csrf: csrfFrom(page), email: bob.email, password: 'wrong password' });
    }
    const text = await scrape();
    const delta = (result: string) =>
      sample(text, 'logins_total', { result }) - sample(before, 'logins_total', { result });
    // 3 attempts a minute are checked; the 4th and 5th are refused without checking.
    assert.deepEqual(
      { success: delta('success'), failure: delta('failure'), throttled: delta('throttled') },
      { success: 1, failure: 3, throttled: 2 },
    );
  });

  it('counts rate-limit refusals by kind', async () => {
    const before = sample(await scrape(), 'rate_limit_refusals_total', { kind: 'v2:ip' });
    const statuses = await Promise.all(
      Array.from({ length: 4 }, () => fetch(`${server.url}/v2/auth/test`).then((r) => r.status)),
    );
    const refused = statuses.filter((s) => s === 429).length;
    assert.ok(refused >= 1, statuses.join(','));
    assert.equal(sample(await scrape(), 'rate_limit_refusals_total', { kind: 'v2:ip' }) - before, refused);
  });

  it('counts webhook deliveries by result and reports the outbox depth', async () => {
    const worker = server.built.webhookWorker;
    const created = await alice.browser.postJson('/v2/webhooks', { url: receiver.url(), events: ['api_key.created'] });
    assert.equal(created.status, 201, await created.clone().text());
    await worker.drain();
    const before = await scrape();
    assert.equal(sample(before, 'webhook_outbox_depth'), 0);

    assert.equal((await alice.browser.postJson('/v2/api-keys', { name: 'one', scopes: ['read:users'] })).status, 201);
    assert.equal((await alice.browser.postJson('/v2/api-keys', { name: 'two', scopes: ['read:users'] })).status, 201);
    assert.equal(sample(await scrape(), 'webhook_outbox_depth'), 2, 'two deliveries wait');
    await worker.drain();
    receiver.respond(500);
    assert.equal((await alice.browser.postJson('/v2/api-keys', { name: 'three', scopes: ['read:users'] })).status, 201);
    await worker.drain();

    const text = await scrape();
    const delta = (result: string) =>
      sample(text, 'webhook_deliveries_total', { result }) - sample(before, 'webhook_deliveries_total', { result });
    assert.equal(delta('succeeded'), 2);
    assert.equal(delta('failed'), 1);
    assert.equal(sample(text, 'webhook_outbox_depth'), 1, 'the failed one waits for its retry');
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789abcdef';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN: token } });
  });
  after(() => server.dispose());

  it('needs the bearer token, even from loopback', async () => {
    const none = await rawGet(`${server.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal(
      (await rawGet(`${server.url}/metrics`, { Authorization: 'Bearer wrong-token-0123456789abcdef' })).status,
      401,
    );
    const ok = await rawGet(`${server.url}/metrics`, {
      Authorization: `Bearer ${token}`,
      'X-Forwarded-For': '203.0.113.9',
    });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^# TYPE http_requests_total counter$/m);
  });
});

describe('createMetrics', () => {
  it('keeps each app in its own registry', async () => {
    const a: Metrics = createMetrics();
    const b: Metrics = createMetrics();
    a.login('failure');
    assert.equal(sample((await a.render()).body, 'logins_total', { result: 'failure' }), 1);
    assert.equal(sample((await b.render()).body, 'logins_total', { result: 'failure' }), 0);
  });

  it('bounds label values it does not know', async () => {
    const m = createMetrics();
    m.request('BREW', '/x', 418, 0.001);
    m.tokenIssued('urn:made:up');
    const text = (await m.render()).body;
    assert.equal(sample(text, 'http_requests_total', { method: 'OTHER' }), 1);
    assert.equal(sample(text, 'oauth_tokens_issued_total', { grant: 'other' }), 1);
  });

  // The event-loop lag figures come from a timer that samples the loop. At prom-client's default
  // (every 10 ms) an idle server woke 100 times a second for it; each wake-up costs CPU, and on
  // shared cores it interrupts whatever else runs.
  it('samples the event loop without waking an idle process 100 times a second', async () => {
    const idle = spawnNode([
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { createMetrics } = await import(${JSON.stringify(new URL('./metrics.ts', import.meta.url).href)});
       const m = createMetrics({ processMetrics: true });
       process.stdout.write('ready\\n');
       setTimeout(async () => process.stdout.write((await m.render()).body), 2500);`,
    ]);
    await idle.waitForLine(/^ready$/);
    // The main thread's switches away from the CPU: each sleep that ends in a wake-up counts one.
    const switches = () =>
      Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${idle.child.pid}/status`, 'utf8'))![1]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = switches();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const during = switches() - before;
    await idle.exited;
    assert.ok(during < 40, `woke ${during} times in a second while idle`);
    // The figures are still there, from the samples it took.
    const p99 = sample(idle.stdoutLines().join('\n'), 'nodejs_eventloop_lag_p99_seconds');
    assert.ok(p99 > 0 && p99 < 1, `nodejs_eventloop_lag_p99_seconds ${p99}`);
  });
});
