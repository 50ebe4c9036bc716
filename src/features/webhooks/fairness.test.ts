import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer, type TestServerOptions } from '../../../test/support/server.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { startBlackhole, type Blackhole } from '../../../test/support/blackhole.ts';
import { WebhookReceiver } from '../../../test/support/webhook-receiver.ts';
import { worldOn, credentialServerEnv, type TestUser, request } from '../../../test/support/world.ts';

// Fair delivery, end to end on the real clock: the server's own background worker delivers to
// real receivers on loopback, some of which never answer (one accepts and stays silent, one never
// accepts the connection at all). One account's stalled endpoints must not hold up another
// account's deliveries, no endpoint gets more than its share at once, and an account has at most
// WEBHOOK_MAX_ENDPOINTS endpoints.

interface Endpoint {
  id: string;
  url: string;
}
interface Delivery {
  status: string;
  attempts: number;
  error: string | null;
  latency_ms: number | null;
}

const register = async (u: TestUser, url: string) => {
  const res = await u.browser.postJson('/v2/webhooks', { url, events: ['api_key.created'] });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Endpoint & { secret: string };
};
const newKey = async (u: TestUser, name = 'k') => {
  const res = await u.browser.postJson('/v2/api-keys', { name, scopes: ['read:users'] });
  assert.equal(res.status, 201, await res.clone().text());
};
const deliveries = async (u: TestUser, id: string) =>
  ((await (await request(u.browser, 'GET', `/v2/webhooks/${id}/deliveries`)).json()) as { data: Delivery[] }).data;

async function until(cond: () => boolean | Promise<boolean>, what: string, withinMs = 5_000): Promise<void> {
  for (const end = Date.now() + withinMs; !(await cond()); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) assert.fail(`timed out after ${withinMs} ms waiting for ${what}`);
  }
}

describe('fair webhook delivery', () => {
  const servers: TestServer[] = [];
  const receivers: WebhookReceiver[] = [];
  const blackholes: Blackhole[] = [];
  after(async () => {
    for (const s of servers.reverse()) await s.dispose();
    await Promise.all([...receivers.map((r) => r.close()), ...blackholes.map((b) => b.close())]);
  });
  const boot = async (opts: TestServerOptions = {}) => {
    const s = await startTestServer({
      ...opts,
      env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1', ...opts.env },
    });
    servers.push(s);
    return s;
  };
  const receiver = async () => {
    const r = await WebhookReceiver.start();
    receivers.push(r);
    return r;
  };
  const blackhole = async () => {
    const b = await startBlackhole();
    blackholes.push(b);
    return b;
  };

  it("one account's ten never-answering endpoints do not hold up another account's delivery", async () => {
    const [s, unreachable] = await Promise.all([boot({ webhookPollMs: 100 }), blackhole()]);
    const make = worldOn(s);
    const attacker = await make.user({ tag: 'attacker' });
    const silent = await receiver();
    silent.hang();
    for (let i = 0; i < 10; i++)
      await register(attacker, i % 2 === 0 ? silent.url(`/silent${i}`) : unreachable.url(`/unreachable${i}`));
    for (let i = 0; i < 3; i++) await newKey(attacker, `a${i}`); // 30 deliveries that will hang
    await until(() => silent.requests.length >= 3, 'the stalled endpoints to hold delivery slots');

    const victim = await make.user({ tag: 'victim' });
    const healthy = await receiver();
    await register(victim, healthy.url());
    const sent = Date.now();
    await newKey(victim);
    // Waiting for the slowest of a batch, this took the 10 s response timeout. ~0.1-0.3 s when
    // fair; the bound leaves room for a loaded test machine.
    await until(() => healthy.requests.length === 1, "the other account's delivery", 3_000);
    const took = Date.now() - sent;
    assert.ok(took < 2_000, `delivered ${took} ms after the event`);
  });

  it(
    'never has more than 2 deliveries in flight to one endpoint, even with two instances on one ' + 'database',
    async () => {
      const a = await boot({ webhookPollMs: 50 });
      const b = await startTestServer({
        webhookPollMs: 50,
        dir: a.dir,
        database: a.database,
        env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' },
      });
      try {
        const u = await worldOn(a).user();
        const slow = await receiver();
        slow.delay(150);
        await register(u, slow.url());
        for (let i = 0; i < 12; i++) await newKey(u, `k${i}`);
        await until(() => slow.requests.length === 12 && slow.inFlight === 0, 'all 12 deliveries', 10_000);
        assert.equal(slow.maxInFlight, 2, 'two at a time, never more');
        assert.equal(new Set(slow.requests.map((r) => r.headers['webhook-id'])).size, 12, 'each delivered once');
      } finally {
        await b.close(); // shares a's folder and database: a's dispose deletes them
      }
    },
  );

  it(
    "serves accounts in turn: a full pool's next free slot goes to the account that waited, not the busiest " +
      'backlog',
    async () => {
      // A pool of 4 (so at most 1 in flight per account): four accounts with 20 slow deliveries each
      // keep it full. Oldest-first would make the fifth account wait for all 80 (about 4 s).
      const s = await boot({ webhookPollMs: 50, env: { WEBHOOK_CONCURRENCY: '4' } });
      const make = worldOn(s);
      const busy = await receiver();
      busy.delay(200);
      const backlogs = await Promise.all([0, 1, 2, 3].map((i) => make.user({ tag: `busy${i}` })));
      await Promise.all(
        backlogs.map(async (u, i) => {
          await register(u, busy.url(`/a${i}`));
          await register(u, busy.url(`/b${i}`));
          for (let k = 0; k < 10; k++) await newKey(u, `k${k}`);
        }),
      );
      await until(() => busy.requests.length >= 8, 'the pool to be busy');
      assert.ok(busy.maxInFlight <= 4, `the pool holds 4 (saw ${busy.maxInFlight})`);

      const waiting = await make.user({ tag: 'waiting' });
      const healthy = await receiver();
      await register(waiting, healthy.url());
      const sent = Date.now();
      await newKey(waiting);
      await until(() => healthy.requests.length === 1, "the waiting account's delivery", 5_000);
      const took = Date.now() - sent;
      assert.ok(took < 2_000, `delivered ${took} ms after the event`);
      assert.ok(busy.requests.length < 60, `served before most of the backlog (${busy.requests.length} of 80 sent)`);
    },
  );

  it(
    'gives up connecting to an address that never accepts after the connect timeout, well before the response ' +
      'timeout',
    async () => {
      const [s, unreachable] = await Promise.all([boot({ webhookPollMs: 100 }), blackhole()]);
      const u = await worldOn(s).user();
      const ep = await register(u, unreachable.url());
      await newKey(u);
      let d: Delivery | undefined;
      await until(
        async () => {
          d = (await deliveries(u, ep.id))[0];
          return d !== undefined && d.attempts === 1;
        },
        'the first attempt to be recorded',
        8_000,
      );
      assert.equal(d!.status, 'pending', 'retried later');
      assert.match(d!.error ?? '', /connect timed out/);
      assert.ok(d!.latency_ms! >= 2_500 && d!.latency_ms! < 5_000, `gave up after ${d!.latency_ms} ms`);
    },
  );

  describe('at most WEBHOOK_MAX_ENDPOINTS endpoints per account (default 20)', () => {
    it('refuses the 21st with 409 CONFLICT, even when 25 are created at once; deleting one makes room', async () => {
      const s = await boot();
      const make = worldOn(s);
      const u = await make.user();
      const target = await receiver();
      const answers = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          u.browser.postJson('/v2/webhooks', { url: target.url(`/p${i}`), events: ['*'] }),
        ),
      );
      const statuses = answers.map((r) => r.status);
      assert.equal(statuses.filter((c) => c === 201).length, 20, statuses.join(','));
      assert.equal(statuses.filter((c) => c === 409).length, 5, statuses.join(','));
      for (const refused of answers.filter((r) => r.status === 409)) {
        await expectApiError(refused, 409, 'CONFLICT', { message: /at most 20 webhook endpoints/ });
      }
      const listed = ((await (await request(u.browser, 'GET', '/v2/webhooks')).json()) as { data: Endpoint[] }).data;
      assert.equal(listed.length, 20);

      await expectApiError(
        await u.browser.postJson('/v2/webhooks', { url: target.url('/more'), events: ['*'] }),
        409,
        'CONFLICT',
      );
      assert.equal((await request(u.browser, 'DELETE', `/v2/webhooks/${listed[0]!.id}`)).status, 204);
      assert.equal((await u.browser.postJson('/v2/webhooks', { url: target.url('/more'), events: ['*'] })).status, 201);
      await expectApiError(
        await u.browser.postJson('/v2/webhooks', { url: target.url('/again'), events: ['*'] }),
        409,
        'CONFLICT',
      );
      // Per account: someone else still registers theirs.
      await register(await make.user(), target.url('/other'));
    });

    it('follows the configured limit, and the dashboard form shows the message', async () => {
      const s = await boot({ env: { WEBHOOK_MAX_ENDPOINTS: '2' } });
      const u = await worldOn(s).user();
      const target = await receiver();
      await register(u, target.url('/1'));
      await register(u, target.url('/2'));
      await expectApiError(
        await u.browser.postJson('/v2/webhooks', { url: target.url('/3'), events: ['*'] }),
        409,
        'CONFLICT',
        { message: /at most 2 webhook endpoints/ },
      );

      const form = await (await u.browser.get('/settings/webhooks/new')).text();
      const res = await u.browser.postForm('/settings/webhooks', {
        _csrf: csrfFrom(form),
        url: target.url('/3'),
        events: '*',
      });
      assert.equal(res.status, 409);
      const page = await res.text();
      assert.match(page, /at most 2 webhook endpoints/);
      assert.match(
        page,
        new RegExp(target.url('/3').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')),
        'the form keeps what was typed',
      );
    });
  });
});
