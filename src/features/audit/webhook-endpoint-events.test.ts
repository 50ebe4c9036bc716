// The audit trail for webhook endpoints: created, changed (settings, enable/disable, a new secret)
// and deleted, naming who acted (the signed-in person, an admin's key acting on someone else's
// endpoint), whose endpoint it is, and the request; the receiver is named by host only, and a
// change that fails leaves no event.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, startWorld, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import type { AuditEntry } from '../../domain/audit.ts';

describe('audit trail: webhook endpoints', () => {
  let world: TestWorld;
  before(async () => (world = await startWorld()));
  after(() => world.close());

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 100 });
  const eventsOf = async (accountId: string, type: string, endpointId: string): Promise<AuditEntry[]> =>
    (await trailOf(accountId)).filter((e) => e.type === type && e.target?.id === endpointId);
  // A receiver URL that carries its own token, as many do: the trail must not repeat it.
  const URL_WITH_TOKEN = 'https://hooks.receiver.example/in/T0KEN-in-the-path?sig=query-secret';

  it('the owner in the dashboard creates, disables, re-enables, rotates and deletes: each names them', async () => {
    const alice = await world.user();
    const person = { type: 'user', id: alice.id, accountId: alice.id, label: alice.email };
    const form = await (await alice.browser.get('/settings/webhooks/new')).text();
    const created = await alice.browser.postForm('/settings/webhooks', {
      _csrf: csrfFrom(form),
      url: URL_WITH_TOKEN,
      events: '*',
    });
    assert.equal(created.status, 303);
    const [endpoint] = await world.server.built.services.webhooks.list(alice.id);
    assert.ok(endpoint);
    const path = `/settings/webhooks/${endpoint.id}`;

    const [made] = await eventsOf(alice.id, 'webhook_endpoint.created', endpoint.id);
    assert.ok(made);
    assert.deepEqual(made.actor, person);
    assert.equal(made.accountId, alice.id);
    assert.deepEqual(made.target, { type: 'webhook_endpoint', id: endpoint.id });
    assert.equal(made.data['host'], 'hooks.receiver.example');
    assert.match(made.ip ?? '', /127\.0\.0\.1/);

    const post = async (action: string, fields: Record<string, string> = {}) => {
      const page = await (await alice.browser.get(path)).text();
      const res = await alice.browser.postForm(`${path}${action}`, { _csrf: csrfFrom(page), ...fields });
      assert.ok(res.status === 303 || res.status === 200, `${action}: ${res.status}`);
    };
    await post('/status', { status: 'disabled' });
    await post('/status', { status: 'active' });
    await post('/secret');
    const changes = (await eventsOf(alice.id, 'webhook_endpoint.changed', endpoint.id)).reverse();
    assert.deepEqual(
      changes.map((e) => [e.data['fields'], e.data['status'] ?? null]),
      [
        [['status'], 'disabled'],
        [['status'], 'active'],
        [['secret'], null],
      ],
    );
    for (const change of changes) assert.deepEqual(change.actor, person);

    const confirm = await (await alice.browser.get(`${path}/delete`)).text();
    assert.equal((await alice.browser.postForm(`${path}/delete`, { _csrf: csrfFrom(confirm) })).status, 303);
    const [deleted] = await eventsOf(alice.id, 'webhook_endpoint.deleted', endpoint.id);
    assert.ok(deleted);
    assert.deepEqual(deleted.actor, person);

    const written = JSON.stringify(await trailOf(alice.id));
    assert.ok(!written.includes('T0KEN') && !written.includes('query-secret'), 'the URL token is not recorded');
  });

  it("an admin's API key changing someone else's endpoint: the key acts, the owner's trail holds it", async () => {
    const bob = await world.user();
    const admin = await world.user({ admin: true });
    const key = await world.apiKey(admin, ['admin:all']);
    const own = await request(bob.browser, 'POST', '/v2/webhooks', {
      body: { url: 'https://bob.example/hook', events: ['*'] },
    });
    assert.equal(own.status, 201);
    const endpointId = String(own.body['id']);
    const [created] = await eventsOf(bob.id, 'webhook_endpoint.created', endpointId);
    assert.deepEqual(created?.actor, { type: 'user', id: bob.id, accountId: bob.id, label: bob.email });

    const headers = { 'X-Request-ID': 'audit-hook-1', 'User-Agent': 'audit-hook/1.0' };
    const body = { url: 'https://bob.example/other', status: 'disabled' };
    const patched = await world.request('PATCH', `/v2/webhooks/${endpointId}`, { bearer: key.key, body, headers });
    assert.equal(patched.status, 200);
    const [change] = await eventsOf(bob.id, 'webhook_endpoint.changed', endpointId);
    assert.ok(change);
    assert.deepEqual(change.actor, { type: 'api_key', id: key.id, accountId: admin.id, label: null });
    assert.equal(change.accountId, bob.id);
    assert.deepEqual(change.data['fields'], ['url', 'status']);
    assert.equal(change.requestId, 'audit-hook-1');
    assert.equal(change.userAgent, 'audit-hook/1.0');

    const rotated = await world.request('POST', `/v2/webhooks/${endpointId}/secret`, { bearer: key.key });
    assert.equal(rotated.status, 200);
    const removed = await world.request('DELETE', `/v2/webhooks/${endpointId}`, { bearer: key.key });
    assert.equal(removed.status, 204);
    const [deleted] = await eventsOf(bob.id, 'webhook_endpoint.deleted', endpointId);
    assert.equal(deleted?.actor.type, 'api_key');
  });

  it('is written with the change: a failed transaction leaves neither the change nor its event', async () => {
    const carol = await world.user();
    const own = await request(carol.browser, 'POST', '/v2/webhooks', {
      body: { url: 'https://carol.example/hook', events: ['*'] },
    });
    const endpointId = String(own.body['id']);
    const before = (await trailOf(carol.id)).length;
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const as = (method: string, path: string, body?: unknown) =>
        request(carol.browser, method, path, body === undefined ? {} : { body });
      const answers = [
        await as('PATCH', `/v2/webhooks/${endpointId}`, { status: 'disabled' }),
        await as('POST', `/v2/webhooks/${endpointId}/secret`),
        await as('DELETE', `/v2/webhooks/${endpointId}`),
        await as('POST', '/v2/webhooks', { url: 'https://carol.example/2', events: ['*'] }),
      ];
      for (const res of answers) assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await trailOf(carol.id)).length, before);
    const rows = await world.server.built.services.webhooks.list(carol.id);
    assert.deepEqual(
      rows.map((r) => [r.id, r.status]),
      [[endpointId, 'active']],
    );
    const secret = await world.server.db
      .selectFrom('webhook_endpoints')
      .select('previous_secret_enc')
      .where('id', '=', endpointId)
      .executeTakeFirstOrThrow();
    assert.equal(secret.previous_secret_enc, null, 'the rotation was rolled back');
  });

  it('an event that cannot be written stops the change', async () => {
    const dan = await world.user();
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const body = { url: 'https://dan.example/hook', events: ['*'] };
      const made = await request(dan.browser, 'POST', '/v2/webhooks', { body });
      assert.ok(made.status >= 500, `status ${made.status}`);
    } finally {
      await restore();
    }
    assert.deepEqual(await world.server.built.services.webhooks.list(dan.id), []);
  });
});
