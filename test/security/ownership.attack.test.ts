/**
 * Attacks on "whose resource is it": an ordinary account, holding every right the route asks for,
 * names another user's API key, webhook endpoint, consent or application by id, and a made-up id.
 * Both answers are the documented 403 (the ownership rule) with identical bodies, so the
 * answer says nothing about which ids exist. admin:all reaches the other user's resource and gets
 * 404 for the made-up one. Every probe goes out at once (Promise.all over separate sockets).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMatrixEnv, FORBIDDEN_BODY, type MatrixEnv, type MatrixResponse } from '../support/security-matrix.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

interface Probe {
  method: string;
  path: string;
  body?: unknown;
}

/** The routes of one resource, for an id (and a delivery id under it, for webhooks). */
type RoutesOf = (id: string) => Probe[];

const KEY_ROUTES: RoutesOf = (id) => [
  { method: 'GET', path: `/v2/api-keys/${id}` },
  { method: 'GET', path: `/v2/api-keys/${id}/activity` },
  { method: 'POST', path: `/v2/api-keys/${id}/rotate` },
  { method: 'POST', path: `/v2/api-keys/${id}/revoke` },
  { method: 'DELETE', path: `/v2/api-keys/${id}` },
];
const webhookRoutes =
  (deliveryId: string): RoutesOf =>
  (id) => [
    { method: 'GET', path: `/v2/webhooks/${id}` },
    { method: 'GET', path: `/v2/webhooks/${id}/deliveries` },
    { method: 'PATCH', path: `/v2/webhooks/${id}`, body: { url: 'https://evil.example/steal' } },
    { method: 'POST', path: `/v2/webhooks/${id}/secret` },
    { method: 'POST', path: `/v2/webhooks/${id}/deliveries/${deliveryId}/redeliver` },
    { method: 'DELETE', path: `/v2/webhooks/${id}` },
  ];
const CONSENT_ROUTES: RoutesOf = (clientId) => [{ method: 'DELETE', path: `/v2/consents/${clientId}` }];
const APPLICATION_ROUTES: RoutesOf = (clientId) => [
  { method: 'GET', path: `/oauth/applications/${clientId}` },
  { method: 'PATCH', path: `/oauth/applications/${clientId}`, body: { name: 'Mine now' } },
  { method: 'POST', path: `/oauth/applications/${clientId}/secret` },
  { method: 'DELETE', path: `/oauth/applications/${clientId}` },
];

const show = (p: Probe, res: MatrixResponse) => `${p.method} ${p.path}: ${res.status} ${JSON.stringify(res.body)}`;

describe("attacks: another user's resource is 403, like one that does not exist", () => {
  let env: MatrixEnv & { dispose(): Promise<void> };
  let receiver: WebhookReceiver;

  before(async () => {
    [env, receiver] = await Promise.all([
      createMatrixEnv({ env: { WEBHOOK_ALLOW_PRIVATE: '1' } }),
      WebhookReceiver.start(),
    ]);
  });
  after(async () => {
    await env?.dispose();
    await receiver?.close();
  });

  /** Sends every probe at once, as `headers` (a credential) says. */
  const fire = (probes: Probe[], headers: { authorization?: string; cookie?: string }) =>
    Promise.all(
      probes.map((p) =>
        env.send({
          ...p,
          authorization: headers.authorization ?? null,
          headers: headers.cookie ? { Cookie: headers.cookie } : {},
        }),
      ),
    );

  /**
   * Alice (with `alice`'s credential) probes bob's resource and a made-up id on every route, at
   * once: all 403 with the documented body, no insufficient_scope challenge, one body for both.
   */
  async function assertNoOracle(
    routes: RoutesOf,
    bobsId: string,
    madeUpId: string,
    alice: { authorization?: string; cookie?: string },
  ) {
    const theirs = routes(bobsId);
    const nobodys = routes(madeUpId);
    const answers = await fire([...theirs, ...nobodys], alice);
    const probes = [...theirs, ...nobodys];
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 403, show(probes[i]!, res));
      assert.deepEqual(res.body, FORBIDDEN_BODY, show(probes[i]!, res));
      assert.doesNotMatch(res.headers.get('www-authenticate') ?? '', /insufficient_scope/, show(probes[i]!, res));
    }
    for (let i = 0; i < theirs.length; i++) {
      assert.deepEqual(
        answers[i]!.body,
        answers[theirs.length + i]!.body,
        `${theirs[i]!.method} ${theirs[i]!.path}: the same answer as for a made-up id`,
      );
    }
  }

  /** admin:all reads bob's resource, and gets 404 NOT_FOUND for the made-up id. */
  async function assertAdminReaches(read: (id: string) => Probe, bobsId: string, madeUpId: string) {
    const admin = `Bearer ${await env.token('api_key', env.admin, ['admin:all'])}`;
    const [theirs, nobodys] = await fire([read(bobsId), read(madeUpId)], { authorization: admin });
    assert.equal(theirs!.status, 200, JSON.stringify(theirs!.body));
    assert.equal(nobodys!.status, 404, JSON.stringify(nobodys!.body));
    assert.equal((nobodys!.body!['error'] as { code: string }).code, 'NOT_FOUND');
  }

  it(
    "API keys: bob's key and a made-up id are both 403 to alice's dashboard session; admin:all reaches " + "bob's",
    async () => {
      const bobsKey = await env.make.apiKey(env.bob, ['read:users']);
      await assertNoOracle(KEY_ROUTES, bobsKey.id, 'madeup000000', { cookie: env.alice.browser.jar.header() });
      // Bob's key was neither revoked nor rotated by the refused attempts.
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${bobsKey.key}` })).status,
        200,
      );
      await assertAdminReaches((id) => ({ method: 'GET', path: `/v2/api-keys/${id}` }), bobsKey.id, 'madeup000000');
    },
  );

  it(
    "webhooks: bob's endpoint and a made-up id are both 403 to alice's dashboard session; admin:all reaches " + "bob's",
    async () => {
      const created = await env.bob.browser.postJson('/v2/webhooks', {
        url: receiver.url(),
        events: ['api_key.created'],
      });
      const endpoint = (await created.json()) as { id: string };
      assert.equal(created.status, 201);
      await assertNoOracle(webhookRoutes('dlv_madeup'), endpoint.id, 'whk_madeup000000', {
        cookie: env.alice.browser.jar.header(),
      });
      const still = (await (await env.bob.browser.get(`/v2/webhooks/${endpoint.id}`)).json()) as { url: string };
      assert.equal(still.url, receiver.url(), 'the refused PATCH changed nothing');
      await assertAdminReaches(
        (id) => ({ method: 'GET', path: `/v2/webhooks/${id}` }),
        endpoint.id,
        'whk_madeup000000',
      );
    },
  );

  it(
    "consents: revoking bob's consent and a made-up client id are both 403 to alice's dashboard session; admin:all " +
      'without a consent of its own gets 404',
    async () => {
      const { clientId, token } = await env.authorizedApp(env.bob, ['read:users']);
      await assertNoOracle(CONSENT_ROUTES, clientId, 'app_madeup000000', { cookie: env.alice.browser.jar.header() });
      assert.equal(
        (await env.send({ method: 'GET', path: '/v2/auth/test', authorization: `Bearer ${token}` })).status,
        200,
        "bob's token still works",
      );
      // A consent is addressed within the caller's account: the admin has none to this application.
      const admin = `Bearer ${await env.token('api_key', env.admin, ['admin:all'])}`;
      const [res] = await fire([{ method: 'DELETE', path: `/v2/consents/${clientId}` }], { authorization: admin });
      assert.equal(res!.status, 404, JSON.stringify(res!.body));
      assert.equal((res!.body!['error'] as { code: string }).code, 'NOT_FOUND');
    },
  );

  it(
    "applications: bob's application and a made-up client id are both 403 to alice's key with " +
      "read+write:applications; admin:all reaches bob's",
    async () => {
      const res = await env.bob.browser.postJson('/oauth/applications', {
        name: "Bob's app",
        redirect_uris: ['https://bob.example/cb'],
        scopes: ['read:users'],
      });
      const app = (await res.json()) as { client_id: string };
      assert.equal(res.status, 201);
      const alice = `Bearer ${await env.token('api_key', env.alice, ['read:applications', 'write:applications'])}`;
      await assertNoOracle(APPLICATION_ROUTES, app.client_id, 'app_madeup000000', { authorization: alice });
      await assertNoOracle(APPLICATION_ROUTES, app.client_id, 'app_madeup000000', {
        cookie: env.alice.browser.jar.header(),
      });
      await assertAdminReaches(
        (id) => ({ method: 'GET', path: `/oauth/applications/${id}` }),
        app.client_id,
        'app_madeup000000',
      );
    },
  );

  it("projects: bob's project and a made-up id are both 403 to alice's key with read+write:projects", async () => {
    const bobs = `Bearer ${await env.token('api_key', env.bob, ['write:projects'])}`;
    const created = await env.send({
      method: 'POST',
      path: '/v2/projects',
      authorization: bobs,
      body: { name: "Bob's project" },
    });
    assert.equal(created.status, 201);
    const id = String(created.body!['id']);
    const alice = `Bearer ${await env.token('api_key', env.alice, ['read:projects', 'write:projects'])}`;
    const routes: RoutesOf = (p) => [
      { method: 'GET', path: `/v2/projects/${p}` },
      { method: 'PATCH', path: `/v2/projects/${p}`, body: { name: 'Mine now' } },
      { method: 'DELETE', path: `/v2/projects/${p}` },
    ];
    await assertNoOracle(routes, id, 'prj_madeup000000', { authorization: alice });
    await assertAdminReaches((p) => ({ method: 'GET', path: `/v2/projects/${p}` }), id, 'prj_madeup000000');
  });
});
