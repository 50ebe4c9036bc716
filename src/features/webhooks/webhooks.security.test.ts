import assert from 'node:assert/strict';
import { after } from 'node:test';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import {
  assertForbidden,
  assertForbiddenCode,
  BEARER_METHODS,
  securityMatrix,
  type MatrixEnv,
  type RequestContext,
  type RouteFixtures,
} from '../../../test/support/security-matrix.ts';
import type { TestUser } from '../../../test/support/world.ts';

// /v2/webhooks: like API keys, managed from a dashboard session or with admin:all (a credential
// without it is 403 insufficient_scope admin:all). An endpoint is its account's: another user's is
// 403 with the documented body (as a made-up id is) to a non-admin session; admin:all reaches it.

interface Endpoint {
  id: string;
  url: string;
  status: string;
  secret?: string;
}

/** Receives the deliveries (WEBHOOK_ALLOW_PRIVATE lets a loopback receiver be registered). */
let receiver: Promise<WebhookReceiver> | undefined;
const receiverUrl = async () => (await (receiver ??= WebhookReceiver.start())).url();
after(async () => (await receiver)?.close());

/** A new endpoint of `owner`'s, registered from the owner's dashboard session. */
async function endpointOf(owner: TestUser): Promise<string> {
  const res = await owner.browser.postJson('/v2/webhooks', { url: await receiverUrl(), events: ['api_key.created'] });
  const body = (await res.json()) as Endpoint;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.id;
}

/**
 * One endpoint per account for the cases that leave it in place (reads, updates, rotations,
 * refusals), so no account collects an endpoint per case.
 */
const shared = new Map<string, Promise<string>>();
const sharedEndpointOf = (owner: TestUser) => {
  let id = shared.get(owner.id);
  if (!id) shared.set(owner.id, (id = endpointOf(owner)));
  return id;
};
const ownerOf = ({ env, caller, target }: RequestContext) => (target === 'self' ? caller : env.bob);

/** A delivery that has been made (not pending), so it may be sent again: a new key's event, delivered. */
async function deliveredTo(env: MatrixEnv, owner: TestUser, endpointId: string): Promise<string> {
  await env.make.apiKey(owner, ['read:users'], { name: 'fires api_key.created' });
  await env.server.built.webhookWorker.drain();
  const res = await owner.browser.get(`/v2/webhooks/${endpointId}/deliveries`);
  const { data } = (await res.json()) as { data: { id: string; status: string }[] };
  const done = data.find((d) => d.status === 'succeeded');
  assert.ok(done, `no delivered delivery: ${JSON.stringify(data)}`);
  return done.id;
}

/** One delivery per account for the cases that leave it in place (refusals). */
const sharedDeliveries = new Map<string, Promise<string>>();
function sharedDeliveryOf(env: MatrixEnv, owner: TestUser, endpointId: string) {
  let id = sharedDeliveries.get(owner.id);
  if (!id) sharedDeliveries.set(owner.id, (id = deliveredTo(env, owner, endpointId)));
  return id;
}

/** Answers 500, so its deliveries stay queued for a retry (the first one 5 s away). */
let refusing: Promise<WebhookReceiver> | undefined;
after(async () => (await refusing)?.close());

/**
 * A delivery still queued for a retry (pending, not due, unclaimed): a new key's event, refused
 * once by a receiver answering 500. Each owner's retrying endpoint collects them.
 */
const retryingEndpoints = new Map<string, Promise<string>>();
async function queuedFor(env: MatrixEnv, owner: TestUser): Promise<{ endpoint: string; delivery: string }> {
  let endpoint = retryingEndpoints.get(owner.id);
  if (!endpoint) {
    const url = (await (refusing ??= WebhookReceiver.start({ status: 500 }))).url();
    endpoint = owner.browser
      .postJson('/v2/webhooks', { url, events: ['api_key.created'] })
      .then(async (res) => ((await res.json()) as Endpoint).id);
    retryingEndpoints.set(owner.id, endpoint);
  }
  const id = await endpoint;
  await env.make.apiKey(owner, ['read:users'], { name: 'queues api_key.created' });
  await env.server.built.webhookWorker.drain();
  const res = await owner.browser.get(`/v2/webhooks/${id}/deliveries`);
  const { data } = (await res.json()) as { data: { id: string; status: string; attempts: number }[] };
  const queued = data.find((d) => d.status === 'pending' && d.attempts === 1);
  assert.ok(queued, `no delivery waiting for a retry: ${JSON.stringify(data)}`);
  return { endpoint: id, delivery: queued.id };
}

/** Another user's endpoint is 403 (the documented ownership rule), unless admin:all. */
const owned = { othersAre: 'forbidden' } as const;
const endpointPath = async (ctx: RequestContext, suffix = '') =>
  `/v2/webhooks/${await sharedEndpointOf(ownerOf(ctx))}${suffix}`;

const routes: RouteFixtures = {
  createWebhook: {
    request: async ({ method }) => ({
      path: '/v2/webhooks',
      body: { url: await receiverUrl(), events: ['application.created'], description: `Registered with ${method}` },
    }),
    check(res, { method }) {
      assert.match(String(res.body!['id']), /^whk_/);
      assert.equal(res.body!['description'], `Registered with ${method}`);
      assert.match(String(res.body!['secret']), /./);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  listWebhooks: {
    async request(ctx) {
      await sharedEndpointOf(ctx.caller);
      return { path: '/v2/webhooks' };
    },
    async check(res, { caller }) {
      const ids = (res.body!['data'] as Endpoint[]).map((e) => e.id);
      assert.ok(ids.includes(await sharedEndpointOf(caller)), ids.join(','));
      // Listings never show a signing secret.
      for (const e of res.body!['data'] as Endpoint[]) assert.equal(e.secret, undefined);
    },
  },
  getWebhook: {
    owned,
    request: async (ctx) => ({ path: await endpointPath(ctx) }),
    check(res) {
      assert.equal(res.body!['status'], 'active');
      assert.equal(res.body!['secret'], undefined);
    },
  },
  updateWebhook: {
    owned,
    request: async (ctx) => ({ path: await endpointPath(ctx), body: { description: `Updated with ${ctx.method}` } }),
    check(res, { method }) {
      assert.equal(res.body!['description'], `Updated with ${method}`);
    },
  },
  deleteWebhook: {
    owned,
    // A successful deletion consumes its endpoint: a new one each time.
    request: async (ctx) => ({
      path: `/v2/webhooks/${ctx.succeeds ? await endpointOf(ownerOf(ctx)) : await sharedEndpointOf(ownerOf(ctx))}`,
    }),
    check(res) {
      assert.equal(res.body, null);
    },
  },
  rotateWebhookSecret: {
    owned,
    request: async (ctx) => ({ path: await endpointPath(ctx, '/secret') }),
    check(res) {
      assert.match(String(res.body!['secret']), /./);
      assert.ok(res.body!['previous_secret_expires_at']);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    },
  },
  listWebhookDeliveries: {
    owned,
    request: async (ctx) => ({ path: await endpointPath(ctx, '/deliveries') }),
    check(res) {
      assert.ok(Array.isArray(res.body!['data']));
    },
  },
  getWebhookDelivery: {
    owned,
    async request(ctx) {
      const owner = ownerOf(ctx);
      const endpoint = await sharedEndpointOf(owner);
      const delivery = await sharedDeliveryOf(ctx.env, owner, endpoint);
      return { path: `/v2/webhooks/${endpoint}/deliveries/${delivery}` };
    },
    check(res) {
      assert.equal(res.body!['status'], 'succeeded');
      assert.equal(JSON.parse(String(res.body!['request_body']))['type'], 'api_key.created');
    },
  },
  retryWebhookDelivery: {
    owned,
    async request(ctx) {
      const { endpoint, delivery } = await queuedFor(ctx.env, ownerOf(ctx));
      return { path: `/v2/webhooks/${endpoint}/deliveries/${delivery}/retry` };
    },
    check(res) {
      assert.deepEqual(res.body, { queued: true });
    },
  },
  sendWebhookTestEvent: {
    owned,
    request: async (ctx) => ({ path: await endpointPath(ctx, '/test') }),
    check(res) {
      assert.equal(res.body!['queued'], true);
      assert.match(String(res.body!['delivery_id']), /^dlv_/);
    },
  },
  redeliverWebhook: {
    owned,
    async request(ctx) {
      const owner = ownerOf(ctx);
      const endpoint = await sharedEndpointOf(owner);
      // A successful redelivery queues its delivery again (a second one would be 409): a new one each time.
      const delivery = ctx.succeeds
        ? await deliveredTo(ctx.env, owner, endpoint)
        : await sharedDeliveryOf(ctx.env, owner, endpoint);
      return { path: `/v2/webhooks/${endpoint}/deliveries/${delivery}/redeliver` };
    },
    check(res) {
      assert.deepEqual(res.body, { queued: true });
    },
  },
};

securityMatrix(
  import.meta.url,
  routes,
  [
    {
      label: "refused changes to another user's endpoint leave it as it was, still delivering",
      async run(env) {
        const id = await endpointOf(env.bob);
        const cookie = { Cookie: env.alice.browser.jar.header() };
        assertForbidden(
          await env.send({
            method: 'PATCH',
            path: `/v2/webhooks/${id}`,
            headers: cookie,
            body: { url: 'https://evil.example/steal', status: 'disabled' },
          }),
        );
        assertForbidden(await env.send({ method: 'POST', path: `/v2/webhooks/${id}/secret`, headers: cookie }));
        assertForbidden(await env.send({ method: 'DELETE', path: `/v2/webhooks/${id}`, headers: cookie }));
        const res = await env.bob.browser.get(`/v2/webhooks/${id}`);
        const endpoint = (await res.json()) as Endpoint;
        assert.equal(res.status, 200);
        assert.equal(endpoint.url, await receiverUrl());
        assert.equal(endpoint.status, 'active');
        assert.ok(await deliveredTo(env, env.bob, id));
      },
    },
    {
      label: "another user's endpoints are not listed, whoever asks",
      async run(env) {
        const bobs = await sharedEndpointOf(env.bob);
        for (const method of BEARER_METHODS) {
          const res = await env.send({
            method: 'GET',
            path: '/v2/webhooks',
            authorization: `Bearer ${await env.token(method, env.admin, ['admin:all'])}`,
          });
          assert.equal(res.status, 200);
          assert.ok(!(res.body!['data'] as Endpoint[]).some((e) => e.id === bobs), method);
        }
        const alice = (await (await env.alice.browser.get('/v2/webhooks')).json()) as { data: Endpoint[] };
        assert.ok(!alice.data.some((e) => e.id === bobs));
      },
    },
    {
      label: 'a JWT with admin:all whose sub is not a Latchkey account cannot manage endpoints (403 FORBIDDEN)',
      async run(env) {
        const auth = `Bearer ${env.jwtFor('user_123', ['admin:all'])}`;
        assertForbiddenCode(
          await env.send({
            method: 'POST',
            path: '/v2/webhooks',
            authorization: auth,
            body: { url: await receiverUrl(), events: ['api_key.created'] },
          }),
        );
        assertForbiddenCode(await env.send({ method: 'GET', path: '/v2/webhooks', authorization: auth }));
      },
    },
  ],
  { env: { WEBHOOK_ALLOW_PRIVATE: '1' } },
);
