import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { APIClient, APIError, SDK_VERSION } from '../src/index.ts';
import { verifyStandardWebhook, verifyWebhookSignature } from '../src/webhooks.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { worldOn, credentialServerEnv, type World, type TestUser } from '../../../test/support/world.ts';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import { FIELDS, assertFields } from './fields.ts';

const HOUR = Date.UTC(2026, 10, 27, 12, 0, 0);

// The SDK against a live server: every resource method, errors, retries, and answers that carry
// exactly the fields the package's own types declare. package.test.ts runs it as installed.
describe('SDK (@latchkey/sdk)', () => {
  let clock = HOUR;
  let server: TestServer;
  let make: World;
  let admin: TestUser;
  let client: APIClient;

  before(async () => {
    server = await startTestServer({
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1', RATE_LIMIT_JWT: '1000,2' },
      now: () => clock,
      webhookPollMs: 3_600_000,
    });
    make = worldOn(server);
    admin = await make.user({ admin: true });
    const { key } = await make.apiKey(admin, ['admin:all']);
    client = new APIClient({ apiKey: key, baseUrl: server.url });
  });
  after(() => server.dispose());

  it('sends its own version as X-Client-Version: the one in its package.json', () => {
    const manifest = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(SDK_VERSION, manifest.version);
  });

  it('answers auth.test() for each credential kind, and { valid: false } for a refused one', async () => {
    const ok = await client.auth.test();
    assert.equal(ok.valid, true);
    assertFields(ok, FIELDS.authTestValid, 'auth.test()');
    assert.equal(ok.valid && ok.method, 'api_key');
    const { access_token } = await make.oauthToken(admin, ['read:users']);
    const viaToken = await new APIClient({ accessToken: access_token, baseUrl: server.url }).auth.test();
    assert.equal(viaToken.valid && viaToken.method, 'oauth');
    const viaJwt = await new APIClient({
      jwt: make.jwt({ sub: 'svc', scopes: ['read:users'] }),
      baseUrl: server.url,
    }).auth.test();
    assert.equal(viaJwt.valid && viaJwt.method, 'jwt');
    const refused = await new APIClient({ apiKey: 'lk_nope', baseUrl: server.url }).auth.test();
    assert.equal(refused.valid, false);
    assert.equal(!refused.valid && refused.status, 401);
    assert.equal(!refused.valid && refused.code, 'UNAUTHORIZED');
  });

  it('reads LATCHKEY_API_KEY and LATCHKEY_BASE_URL when nothing is given', async () => {
    const { key } = await make.apiKey(admin, ['read:users']);
    process.env['LATCHKEY_API_KEY'] = key;
    process.env['LATCHKEY_BASE_URL'] = server.url;
    try {
      const result = await new APIClient().auth.test();
      assert.equal(result.valid, true);
    } finally {
      delete process.env['LATCHKEY_API_KEY'];
      delete process.env['LATCHKEY_BASE_URL'];
    }
  });

  it('manages API keys, projects, users and applications', async () => {
    const created = await client.apiKeys.create({ name: 'sdk', scopes: ['read:projects'] });
    assert.match(created.key, /^lk_/);
    assertFields(created, FIELDS.createdApiKey, 'apiKeys.create()');
    assert.ok((await client.apiKeys.list()).some((k) => k.id === created.id));
    const fetched = await client.apiKeys.get(created.id);
    assert.equal(fetched.name, 'sdk');
    assertFields(fetched, FIELDS.apiKey, 'apiKeys.get()');
    const rotated = await client.apiKeys.rotate(created.id);
    assert.notEqual(rotated.key, created.key);
    assertFields(rotated, FIELDS.createdApiKey, 'apiKeys.rotate()');
    const revoked = await client.apiKeys.revoke(rotated.id);
    assert.equal(revoked.status, 'revoked');
    assertFields(revoked, FIELDS.apiKey, 'apiKeys.revoke()');
    await new APIClient({ apiKey: created.key, baseUrl: server.url }).auth.test();
    assert.ok(Array.isArray(await client.apiKeys.activity(created.id)));
    const used = await make.apiKey(admin, ['read:users']);
    await new APIClient({ apiKey: used.key, baseUrl: server.url }).auth.test();
    const [entry] = await client.apiKeys.activity(used.id);
    assert.equal(entry?.path, '/v2/auth/test');
    assert.equal(entry?.client_version, SDK_VERSION);
    assertFields(entry, FIELDS.apiKeyActivityEntry, 'apiKeys.activity()');
    const activity = await client.apiKeys.activityPage(used.id, { status: '2xx', path: '/v2/', limit: 1 });
    assertFields(activity, FIELDS.apiKeyActivityPage, 'apiKeys.activityPage()');
    assert.equal(activity.data[0]?.path, '/v2/auth/test');

    const project = await client.projects.create({ name: 'Apollo' });
    assertFields(project, FIELDS.project, 'projects.create()');
    assert.equal((await client.projects.get(project.id)).name, 'Apollo');
    assert.equal((await client.projects.update(project.id, { description: 'moon' })).description, 'moon');
    assert.ok((await client.projects.list()).some((p) => p.id === project.id));
    await client.projects.delete(project.id);
    await assert.rejects(
      client.projects.get(project.id),
      (e: unknown) => e instanceof APIError && e.status === 404 && e.code === 'NOT_FOUND',
    );

    assert.equal((await client.users.me()).id, admin.id);
    const user = await client.users.create({ email: `sdk-${Date.now()}@example.com`, password: 'sdk passphrase' });
    assertFields(user, FIELDS.user, 'users.create()');
    assert.equal((await client.users.get(user.id)).email, user.email);
    assert.equal((await client.users.update(user.id, { name: 'Sam' })).name, 'Sam');
    const page = await client.users.list({ limit: 100 });
    assertFields(page, FIELDS.userPage, 'users.list()');
    assert.ok(page.data.some((u) => u.id === user.id));
    await client.users.delete(user.id);

    const app = await client.applications.create({
      name: 'SDK app',
      redirect_uris: ['https://sdk.example/cb'],
      scopes: ['read:users'],
    });
    assert.match(app.client_secret!, /^lkcs_/);
    assertFields(app, FIELDS.registeredApplication, 'applications.create()');
    assert.equal((await client.applications.update(app.client_id, { name: 'Renamed' })).name, 'Renamed');
    assert.ok((await client.applications.list()).some((a) => a.client_id === app.client_id));
    const registered = await client.applications.get(app.client_id);
    assert.equal(registered.name, 'Renamed');
    assertFields(registered, FIELDS.application, 'applications.get()');
    const rotatedApp = await client.applications.rotateSecret(app.client_id);
    assert.notEqual(rotatedApp.client_secret, app.client_secret);
    assertFields(rotatedApp, FIELDS.rotatedApplicationSecret, 'applications.rotateSecret()');
    await client.applications.delete(app.client_id);

    // The consent given in the OAuth test above; revoking it empties the list.
    const [consent] = await client.consents.list();
    assert.equal(consent!.application, 'Test client');
    assertFields(consent, FIELDS.consent, 'consents.list()');
    await client.consents.revoke(consent!.client_id);
    assert.deepEqual(await client.consents.list(), []);
  });

  it('maps errors to APIError with status, code, message and request id', async () => {
    const err = await client.projects.create({ name: '' }).catch((e: unknown) => e);
    assert.ok(err instanceof APIError);
    assert.equal(err.status, 400);
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.match(err.message, /name/);
    assert.match(err.requestId ?? '', /^[0-9a-f-]{36}$/);
    const limited = new APIClient({ apiKey: (await make.apiKey(admin, ['read:users'])).key, baseUrl: server.url });
    await assert.rejects(
      limited.projects.list(),
      (e: unknown) => e instanceof APIError && e.status === 403 && e.code === 'FORBIDDEN',
    );
  });

  it('waits out a 429 (Retry-After) and retries, within a bound', async () => {
    const waits: number[] = [];
    const jwtClient = new APIClient({
      jwt: make.jwt({ sub: 'burst', scopes: ['read:users'] }),
      baseUrl: server.url,
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms; // the server's clock moves as the client waits
      },
    });
    for (let i = 0; i < 3; i++) assert.equal((await jwtClient.auth.test()).valid, true); // burst is 2 per second
    assert.deepEqual(waits, [1000]);
    const stubborn = new APIClient({
      jwt: make.jwt({ sub: 'stubborn', scopes: [] }),
      baseUrl: server.url,
      maxRetries: 1,
      sleep: async () => {},
    });
    await stubborn.auth.test();
    await stubborn.auth.test();
    await assert.rejects(
      stubborn.request('GET', '/v2/auth/test'),
      (e: unknown) => e instanceof APIError && e.status === 429 && e.code === 'RATE_LIMITED',
    );
  });

  it('retries network errors only for idempotent requests', async () => {
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const c = new APIClient({
      apiKey: (await make.apiKey(admin, ['admin:all'])).key,
      baseUrl: server.url,
      fetch: flaky,
      sleep: async () => {},
    });
    assert.equal((await c.auth.test()).valid, true);
    assert.equal(calls, 2);
    calls = 0;
    await assert.rejects(c.projects.create({ name: 'once' }), /fetch failed/);
    assert.equal(calls, 1, 'a POST is not repeated');
  });

  it('manages webhooks, and its verifiers accept real deliveries', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      const endpoint = await client.webhooks.create({ url: receiver.url(), events: ['api_key.created'] });
      assert.match(endpoint.secret, /^whsec_/);
      assertFields(endpoint, FIELDS.createdWebhookEndpoint, 'webhooks.create()');
      assert.ok((await client.webhooks.list()).some((w) => w.id === endpoint.id));
      await client.apiKeys.create({ name: 'triggers a webhook', scopes: ['read:users'] });
      await server.built.webhookWorker.drain();
      const [delivery] = receiver.requests;
      assert.ok(delivery);
      assert.equal(
        verifyWebhookSignature(delivery.body, delivery.headers['x-webhook-signature'] as string, endpoint.secret),
        true,
      );
      assert.equal(verifyWebhookSignature(delivery.body, 'short', endpoint.secret), false, 'length-safe');
      assert.equal(verifyStandardWebhook(delivery.body, delivery.headers, endpoint.secret, { now: clock }), true);
      assert.equal(
        verifyStandardWebhook(`${delivery.body} `, delivery.headers, endpoint.secret, { now: clock }),
        false,
      );
      assert.equal(
        verifyStandardWebhook(delivery.body, delivery.headers, endpoint.secret, { now: clock + 10 * 60_000 }),
        false,
        'replayed later',
      );
      const [logged] = await client.webhooks.deliveries(endpoint.id);
      assert.equal(logged!.status, 'succeeded');
      assertFields(logged, FIELDS.webhookDelivery, 'webhooks.deliveries()');
      assertFields(logged!.attempt_log[0], FIELDS.webhookDeliveryAttempt, 'a delivery attempt');
      const one = await client.webhooks.delivery(endpoint.id, logged!.id);
      assertFields(one, FIELDS.webhookDelivery, 'webhooks.delivery()');
      assert.equal(one.request_body, delivery.body, 'the exact body sent');
      assertFields(one.attempt_log[0], FIELDS.webhookDeliveryAttempt, 'a delivery attempt');
      const test = await client.webhooks.sendTestEvent(endpoint.id);
      assertFields(test, FIELDS.webhookTestEventQueued, 'webhooks.sendTestEvent()');
      assert.deepEqual(await client.webhooks.retry(endpoint.id, test.delivery_id), { queued: true });
      await server.built.webhookWorker.drain();
      assert.equal(receiver.requests.at(-1)!.headers['webhook-id'], test.event_id);
      assert.deepEqual(await client.webhooks.redeliver(endpoint.id, logged!.id), { queued: true });
      assert.equal((await client.webhooks.update(endpoint.id, { description: 'sdk' })).description, 'sdk');
      const rotatedSecret = await client.webhooks.rotateSecret(endpoint.id);
      assert.notEqual(rotatedSecret.secret, endpoint.secret);
      assertFields(rotatedSecret, FIELDS.rotatedWebhookSecret, 'webhooks.rotateSecret()');
      const fetchedEndpoint = await client.webhooks.get(endpoint.id);
      assert.equal(fetchedEndpoint.id, endpoint.id);
      assertFields(fetchedEndpoint, FIELDS.webhookEndpoint, 'webhooks.get()');
      await client.webhooks.delete(endpoint.id);
    } finally {
      await receiver.close();
    }
  });
});
