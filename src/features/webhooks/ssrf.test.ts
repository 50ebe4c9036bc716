import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import { createDeliver } from './deliver.ts';
import { isPublicAddress } from './ssrf.ts';
import { worldOn, credentialServerEnv, type TestUser, request } from '../../../test/support/world.ts';

// The SSRF guard: webhooks never reach loopback, private, link-local or
// metadata addresses unless WEBHOOK_ALLOW_PRIVATE=1. No traffic leaves 127.0.0.1: the only
// receiver is local, and the public URLs registered here never get an event.

const HOUR = 3_600_000;

describe('isPublicAddress', () => {
  const refused = [
    '127.0.0.1',
    '127.1.2.3',
    '0.0.0.0',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    'not an address',
    '',
  ];
  for (const ip of refused) it(`refuses ${ip || '(empty)'}`, () => assert.equal(isPublicAddress(ip), false));
  for (const ip of ['93.184.216.34', '8.8.8.8', '2606:2800:220:1::1', '::ffff:93.184.216.34']) {
    it(`accepts ${ip}`, () => assert.equal(isPublicAddress(ip), true));
  }
});

describe('delivery-time guard (createDeliver)', () => {
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await WebhookReceiver.start();
  });
  after(() => receiver.close());

  const deliver = (allowPrivate: boolean, url: string) =>
    createDeliver({ allowPrivate, timeoutMs: 1000, connectTimeoutMs: 1000 })(url, '{}', {
      'content-type': 'application/json',
    });

  it('refuses a hostname that resolves to loopback, and sends nothing', async () => {
    receiver.clear();
    const out = await deliver(false, `http://localhost:${receiver.port}/hook`);
    assert.equal(out.ok, false);
    assert.equal(out.statusCode, null);
    assert.match(out.error ?? '', /non-public/);
    assert.equal(receiver.requests.length, 0);
  });

  it('refuses loopback IP literals too (no DNS lookup happens for them), and sends nothing', async () => {
    receiver.clear();
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]']) {
      const out = await deliver(false, `http://${host}:${receiver.port}/hook`);
      assert.equal(out.ok, false, `${host}: ${JSON.stringify(out)}`);
      assert.match(out.error ?? '', /non-public/, host);
    }
    assert.equal(receiver.requests.length, 0, `the receiver got ${receiver.requests.map((r) => r.path).join(', ')}`);
  });

  it('delivers to loopback with allowPrivate (the tests’ setting)', async () => {
    receiver.clear();
    const out = await deliver(true, `http://localhost:${receiver.port}/hook`);
    assert.equal(out.ok, true, JSON.stringify(out));
    assert.equal(out.statusCode, 200);
    assert.equal(receiver.requests.length, 1);
  });

  it('does not follow a redirect: a 3xx is a failed attempt', async () => {
    receiver.clear();
    receiver.respond(302);
    const out = await deliver(true, receiver.url('/moved'));
    receiver.respond(200);
    assert.equal(out.ok, false);
    assert.equal(out.statusCode, 302);
    assert.equal(receiver.requests.length, 1);
  });
});

describe('registration without WEBHOOK_ALLOW_PRIVATE', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ env: credentialServerEnv, webhookPollMs: HOUR });
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  const refused = [
    'http://127.0.0.1/hook',
    'https://127.0.0.1/hook',
    'https://10.0.0.1/hook',
    'https://172.16.0.1/hook',
    'https://192.168.1.1/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://100.64.0.1/hook',
    'https://localhost/hook',
    'https://api.localhost/hook',
    'https://[::1]/hook',
    'https://[fc00::1]/hook',
    'https://[fe80::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    'https://2130706433/hook',
    'https://0x7f.0.0.1/hook',
    'https://0/hook',
  ];
  for (const url of refused) {
    it(`refuses ${url} with 400 naming url`, async () => {
      await expectApiError(
        await user.browser.postJson('/v2/webhooks', { url, events: ['*'] }),
        400,
        'VALIDATION_FAILED',
        { field: 'url' },
      );
    });
  }

  it('refuses changing an endpoint to a private address', async () => {
    const res = await user.browser.postJson('/v2/webhooks', {
      url: 'https://example.com/hook',
      events: ['api_key.created'],
    });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    await expectApiError(
      await request(user.browser, 'PATCH', `/v2/webhooks/${id}`, { body: { url: 'https://169.254.169.254/' } }),
      400,
      'VALIDATION_FAILED',
      { field: 'url' },
    );
    const after = (await (await request(user.browser, 'GET', `/v2/webhooks/${id}`)).json()) as { url: string };
    assert.equal(after.url, 'https://example.com/hook');
    await request(user.browser, 'DELETE', `/v2/webhooks/${id}`);
  });
});

describe('an endpoint registered with WEBHOOK_ALLOW_PRIVATE, delivered after it is turned off', () => {
  it('is refused at delivery time: the receiver gets nothing and the log says why', async () => {
    const receiver = await WebhookReceiver.start();
    let server = await startTestServer({
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' },
      webhookPollMs: HOUR,
    });
    const dir = server.dir;
    try {
      const user = await worldOn(server).user();
      const ep = (await (
        await user.browser.postJson('/v2/webhooks', { url: receiver.url(), events: ['api_key.created'] })
      ).json()) as { id: string };
      await server.close();
      // Let fetch see the closed keep-alive sockets (as restart() does).
      await new Promise((resolve) => setTimeout(resolve, 10));
      server = await startTestServer({
        env: credentialServerEnv,
        webhookPollMs: HOUR,
        dir,
        port: server.port,
        database: server.database,
      });
      const made = await user.browser.postJson('/v2/api-keys', { name: 'k', scopes: ['read:users'] });
      assert.equal(made.status, 201);
      await server.built.webhookWorker.tick();
      assert.equal(receiver.requests.length, 0, 'nothing reached the loopback receiver');
      const [d] = (
        (await (await request(user.browser, 'GET', `/v2/webhooks/${ep.id}/deliveries`)).json()) as {
          data: { status: string; error: string }[];
        }
      ).data;
      assert.equal(d!.status, 'pending');
      assert.match(d!.error, /non-public/);
    } finally {
      await server.dispose();
      await receiver.close();
    }
  });
});
