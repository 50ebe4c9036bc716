import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { expectApiError } from '../../../test/support/api.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import {
  WebhookReceiver,
  eventOf,
  documentedAccepts,
  standardAccepts,
} from '../../../test/support/webhook-receiver.ts';
import { credentialServerEnv, request, worldOn, type TestUser, type World } from '../../../test/support/world.ts';
import { createWebhooksRepo } from './webhooks.repo.ts';
import { TEST_EVENTS_PER_HOUR } from './webhooks.service.ts';

// What a person sees of webhook deliveries: the body and headers sent, each attempt's status,
// latency and response excerpt (capped, plain text), "send test event" and "retry now". Real
// server, real receivers on loopback, the server's own worker (tests call drain()).

const HOUR = 3_600_000;

interface Attempt {
  attempt: number;
  response_code: number | null;
  error: string | null;
  request_headers: Record<string, string> | null;
  response_excerpt: string | null;
}
interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  request_body: string;
  attempt_log: Attempt[];
}

async function json<T>(res: Pick<Response, 'status' | 'text'>, status: number): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

/**
 * A receiver answering `status` with `body`, written in `chunk`-sized pieces; with `endless` it never
 * ends the response (the worker must hang up on it, not wait for its end).
 */
async function answering(status: number, body: string | Buffer, chunk = body.length, endless = false) {
  const state = { written: 0, requests: 0 };
  const bytes = Buffer.from(body);
  const server = http.createServer((req, res) => {
    state.requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/html' });
      let at = 0;
      let closed = false;
      res.on('close', () => (closed = true));
      // A piece every few milliseconds (a slow sender): once the worker hangs up, the count stops.
      const next = () => {
        if (closed || at >= bytes.length) return endless ? undefined : void res.end();
        const piece = bytes.subarray(at, at + chunk);
        at += piece.length;
        state.written += piece.length;
        if (res.write(piece)) setTimeout(next, 2);
        else res.once('drain', next);
      };
      next();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('webhook observability', () => {
  let server: TestServer;
  let make: World;
  const closers: Array<() => Promise<void>> = [];
  const worker = () => server.built.webhookWorker;
  const register = async (u: TestUser, url: string, events: string[] = ['api_key.created']) =>
    json<{ id: string; secret: string }>(await u.browser.postJson('/v2/webhooks', { url, events }), 201);
  const deliveries = async (u: TestUser, id: string) =>
    (await json<{ data: Delivery[] }>(await request(u.browser, 'GET', `/v2/webhooks/${id}/deliveries`), 200)).data;
  const deliveryOf = async (u: TestUser, id: string, deliveryId: string) =>
    json<Delivery>(await request(u.browser, 'GET', `/v2/webhooks/${id}/deliveries/${deliveryId}`), 200);
  const newKey = (u: TestUser) => u.browser.postJson('/v2/api-keys', { name: 'k', scopes: ['read:users'] });
  const receiver = async () => {
    const r = await WebhookReceiver.start();
    closers.push(() => r.close());
    return r;
  };

  before(async () => {
    server = await startTestServer({
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' },
      webhookPollMs: HOUR,
    });
    make = worldOn(server);
  });
  after(async () => {
    await server.dispose();
    await Promise.all(closers.map((c) => c()));
  });

  it('a delivery shows the exact body, the headers sent and the response excerpt of each attempt', async () => {
    const u = await make.user();
    const r = await answering(500, 'receiver says: {"error":"bad signature"}\r\n\u001b[31mred\u0000');
    closers.push(r.close);
    const ep = await register(u, r.url);
    await json(await newKey(u), 201);
    await worker().drain();
    const [listed] = await deliveries(u, ep.id);
    const d = await deliveryOf(u, ep.id, listed!.id);
    assert.equal(d.event_type, 'api_key.created');
    assert.equal(eventOf({ body: d.request_body }).id, d.event_id);
    assert.deepEqual(listed!.request_body, d.request_body);
    const [a] = d.attempt_log;
    assert.equal(a!.response_code, 500);
    assert.equal(
      a!.response_excerpt,
      'receiver says: {"error":"bad signature"}\n[31mred',
      'control characters removed',
    );
    const headers = a!.request_headers!;
    assert.equal(headers['webhook-id'], d.event_id);
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['user-agent'], 'Latchkey-Webhooks/1');
    assert.ok(documentedAccepts({ headers, body: d.request_body }, ep.secret), 'the headers shown verify the body');
    assert.ok(!JSON.stringify(d).includes(ep.secret.slice(6)), 'the secret is never shown');
  });

  it('a receiver answering 1 MB (and never ending) leaves a 1 KiB excerpt; the worker hangs up', async () => {
    const u = await make.user();
    const r = await answering(200, Buffer.alloc(1024 * 1024, 'x'), 16 * 1024, true);
    closers.push(r.close);
    const ep = await register(u, r.url);
    await json(await newKey(u), 201);
    await worker().drain();
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.status, 'succeeded');
    assert.equal(d!.attempt_log[0]!.response_excerpt, 'x'.repeat(1024));
    // Had the worker waited for the end of the body, the attempt would have timed out (an error).
    assert.equal(d!.attempt_log[0]!.error, null);
    assert.equal(r.state.requests, 1);
  });

  it('the repository caps an excerpt, whoever writes it', async () => {
    const u = await make.user();
    const ep = await register(u, (await receiver()).url());
    await json(await newKey(u), 201);
    const repo = createWebhooksRepo(server.db);
    const now = server.now();
    const limits = { now, lockUntil: now + 20_000, limit: 50, perEndpoint: 2, perAccount: 50 };
    const all = await repo.claimDue(limits);
    const [claimed] = all.filter((d) => d.endpoint_id === ep.id);
    assert.ok(claimed);
    for (const d of all) if (d !== claimed) await repo.release(d.id);
    await repo.recordSuccess(claimed, now, 200, 3, { responseExcerpt: 'y'.repeat(5000), requestHeaders: {} });
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.attempt_log[0]!.response_excerpt!.length, 1024);
  });

  it('the delivery page shows a receiver answering <script> as text', async () => {
    const u = await make.user();
    const r = await answering(400, '<script>alert(1)</script><b>bold</b>');
    closers.push(r.close);
    const ep = await register(u, r.url);
    await json(await newKey(u), 201);
    await worker().drain();
    const [d] = await deliveries(u, ep.id);
    const res = await u.browser.get(`/settings/webhooks/${ep.id}/deliveries/${d!.id}`);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;'), 'escaped');
    assert.ok(!html.includes('<script>alert(1)'), 'never markup');
    assert.ok(html.includes('&quot;type&quot;: &quot;api_key.created&quot;'), 'the body, indented');
    assert.ok(html.includes('webhook-signature: v1,'), 'the headers sent');
    assert.ok(html.includes(`/deliveries/${d!.id}/retry`), 'a delivery waiting for its retry offers retry now');
    // Another account cannot see it.
    const other = await make.user();
    assert.notEqual((await other.browser.get(`/settings/webhooks/${ep.id}/deliveries/${d!.id}`)).status, 200);
  });

  it('"send test event" goes to that endpoint only, signed, and shows in its log', async () => {
    const u = await make.user();
    const asked = await receiver();
    const bystander = await receiver();
    const ep = await register(u, asked.url(), ['*']);
    const other = await register(u, bystander.url(), ['*']);
    const queued = await json<{ queued: true; event_id: string; delivery_id: string }>(
      await u.browser.postJson(`/v2/webhooks/${ep.id}/test`, {}),
      202,
    );
    await worker().drain();
    assert.equal(asked.requests.length, 1);
    const got = asked.requests[0]!;
    assert.equal(eventOf(got).type, 'webhook.test');
    assert.equal(eventOf(got).id, queued.event_id);
    assert.equal(eventOf(got).data['endpoint_id'], ep.id);
    assert.ok(documentedAccepts(got, ep.secret) && standardAccepts(got, ep.secret), 'signed like any other');
    assert.equal(bystander.requests.length, 0, 'not even an endpoint subscribed to everything');
    assert.equal((await deliveries(u, other.id)).length, 0);
    const [d] = await deliveries(u, ep.id);
    assert.equal(d!.id, queued.delivery_id);
    assert.equal(d!.status, 'succeeded');

    // From the page: the button posts, and the log shows the delivery.
    const page = await (await u.browser.get(`/settings/webhooks/${ep.id}`)).text();
    const res = await u.browser.postForm(`/settings/webhooks/${ep.id}/test`, { _csrf: csrfFrom(page) });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/settings/webhooks/${ep.id}?done=test-queued`);
    await worker().drain();
    assert.equal(asked.requests.length, 2);
    assert.match(await (await u.browser.get(`/settings/webhooks/${ep.id}`)).text(), /webhook\.test/);
  });

  it('"send test event" is limited per account and refused for a disabled endpoint', async () => {
    const u = await make.user();
    const a = await register(u, (await receiver()).url());
    const b = await register(u, (await receiver()).url());
    for (let i = 0; i < TEST_EVENTS_PER_HOUR; i++) {
      await json(await u.browser.postJson(`/v2/webhooks/${i % 2 ? a.id : b.id}/test`, {}), 202);
    }
    const refused = await u.browser.postJson(`/v2/webhooks/${a.id}/test`, {});
    await expectApiError(refused, 429, 'RATE_LIMITED');
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
    // Another account has its own allowance.
    const v = await make.user();
    const c = await register(v, (await receiver()).url());
    await json(await v.browser.postJson(`/v2/webhooks/${c.id}/test`, {}), 202);
    await json(await request(v.browser, 'PATCH', `/v2/webhooks/${c.id}`, { body: { status: 'disabled' } }), 200);
    await expectApiError(await v.browser.postJson(`/v2/webhooks/${c.id}/test`, {}), 409, 'CONFLICT');
    await worker().drain();
  });

  it('"retry now" makes a retrying delivery due now; a settled one is redelivered instead', async () => {
    const u = await make.user();
    const r = await receiver();
    r.respond(500);
    const ep = await register(u, r.url());
    await json(await newKey(u), 201);
    await worker().drain();
    const [waiting] = await deliveries(u, ep.id);
    assert.equal(waiting!.status, 'pending');
    assert.equal(waiting!.attempts, 1);
    assert.ok(Date.parse(waiting!.next_attempt_at!) > server.now(), 'waits for its retry');
    await worker().drain();
    assert.equal(r.requests.length, 1, 'not due yet');

    r.respond(200);
    const retry = `/v2/webhooks/${ep.id}/deliveries/${waiting!.id}/retry`;
    assert.deepEqual(await json(await u.browser.postJson(retry, {}), 202), { queued: true });
    await worker().drain();
    assert.equal(r.requests.length, 2);
    assert.equal(r.requests[1]!.headers['webhook-id'], waiting!.event_id, 'the same webhook-id');
    const [done] = await deliveries(u, ep.id);
    assert.equal(done!.status, 'succeeded');
    await expectApiError(await u.browser.postJson(retry, {}), 409, 'CONFLICT');
    await expectApiError(
      await u.browser.postJson(`/v2/webhooks/${ep.id}/deliveries/dlv_nope/retry`, {}),
      404,
      'NOT_FOUND',
    );
  });

  it('"retry now" while a worker holds the claim sends nothing more: the claim stays exclusive', async () => {
    const u = await make.user();
    const r = await receiver();
    const ep = await register(u, r.url());
    await json(await newKey(u), 201);
    const repo = createWebhooksRepo(server.db);
    const now = server.now();
    const limits = { now, lockUntil: now + 20_000, limit: 50, perEndpoint: 2, perAccount: 50 };
    const all = await repo.claimDue(limits);
    const [held] = all.filter((d) => d.endpoint_id === ep.id);
    assert.ok(held, 'claimed by "another worker"');
    for (const d of all) if (d !== held) await repo.release(d.id);

    const retry = `/v2/webhooks/${ep.id}/deliveries/${held.id}/retry`;
    await expectApiError(await u.browser.postJson(retry, {}), 409, 'CONFLICT');
    assert.equal(await repo.bringDeliveryForward(held.id, now), false);
    assert.deepEqual(
      (await repo.claimDue(limits)).filter((d) => d.id === held.id),
      [],
      'nobody else can claim it',
    );
    await worker().drain();
    assert.equal(r.requests.length, 0, "the server's worker did not send it");

    // The holder settles it: sent once, and retry now is refused (it is no longer queued).
    await repo.recordSuccess(held, now, 200, 5);
    await worker().drain();
    assert.equal(r.requests.length, 0);
    await expectApiError(await u.browser.postJson(retry, {}), 409, 'CONFLICT');
  });

  it('"retry now" from the page: the log offers it for queued deliveries', async () => {
    const u = await make.user();
    const r = await receiver();
    r.respond(503);
    const ep = await register(u, r.url());
    await json(await newKey(u), 201);
    await worker().drain();
    const [d] = await deliveries(u, ep.id);
    const page = await (await u.browser.get(`/settings/webhooks/${ep.id}`)).text();
    assert.ok(page.includes(`/deliveries/${d!.id}/retry`));
    r.respond(200);
    const res = await u.browser.postForm(`/settings/webhooks/${ep.id}/deliveries/${d!.id}/retry`, {
      _csrf: csrfFrom(page),
    });
    assert.equal(res.headers.get('location'), `/settings/webhooks/${ep.id}?done=retry-queued`);
    await worker().drain();
    assert.equal(r.requests.length, 2);
  });
});
