// The audit trail for API keys: each change leaves one event naming who did it (the credential or
// the signed-in person), whose key it was, and where the request came from; a change that fails
// leaves no event, and an event that cannot be written stops the change.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';

describe('audit trail: API keys', () => {
  let world: TestWorld;
  before(async () => (world = await startWorld()));
  after(() => world.close());

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 50 });

  // Keys are made through the API by a session or an admin:all credential.
  it('a key created with another key names that key as actor, the owner, and the request', async () => {
    const alice = await world.user({ admin: true });
    const bearer = await world.apiKey(alice, ['admin:all']);
    const res = await world.request('POST', '/v2/api-keys', {
      bearer: bearer.key,
      body: { name: 'deploy', scopes: ['read:users'] },
      headers: { 'X-Request-ID': 'audit-test-1', 'User-Agent': 'audit-test/1.0' },
    });
    assert.equal(res.status, 201);
    const created = (await trailOf(alice.id)).find(
      (e) => e.type === 'api_key.created' && e.target?.id === res.body['id'],
    );
    assert.ok(created, 'the event is there');
    assert.deepEqual(created.actor, { type: 'api_key', id: bearer.id, accountId: alice.id, label: null });
    assert.equal(created.accountId, alice.id);
    assert.deepEqual(created.target, { type: 'api_key', id: res.body['id'] });
    assert.equal(created.requestId, 'audit-test-1');
    assert.equal(created.userAgent, 'audit-test/1.0');
    assert.match(created.ip ?? '', /127\.0\.0\.1/);
    assert.equal(created.data['name'], 'deploy');
  });

  it('a key revoked in the dashboard names the signed-in person', async () => {
    const bob = await world.user();
    const key = await world.apiKey(bob, ['read:users']);
    const page = await (await bob.browser.get(`/settings/api-keys/${key.id}`)).text();
    const res = await bob.browser.postForm(`/settings/api-keys/${key.id}/revoke`, { _csrf: csrfFrom(page) });
    assert.equal(res.status, 303);
    const revoked = (await trailOf(bob.id)).find((e) => e.type === 'api_key.revoked');
    assert.ok(revoked);
    assert.deepEqual(revoked.actor, { type: 'user', id: bob.id, accountId: bob.id, label: bob.email });
    assert.deepEqual(revoked.target, { type: 'api_key', id: key.id });
  });

  it('is written with the change: when the transaction fails, neither the key nor its event remains', async () => {
    const carol = await world.user({ admin: true });
    const bearer = await world.apiKey(carol, ['admin:all']);
    const before = (await trailOf(carol.id)).length;
    // Fails the transaction after the key row and the audit row were written in it.
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const res = await world.request('POST', '/v2/api-keys', {
        bearer: bearer.key,
        body: { name: 'doomed', scopes: ['read:users'] },
      });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await trailOf(carol.id)).length, before);
    const keys = await world.server.db.selectFrom('api_keys').select('name').where('user_id', '=', carol.id).execute();
    assert.deepEqual(
      keys.map((k) => k.name),
      ['test key'],
    );
  });

  it('an event that cannot be written stops the change', async () => {
    const dan = await world.user({ admin: true });
    const bearer = await world.apiKey(dan, ['admin:all']);
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const res = await world.request('POST', '/v2/api-keys', {
        bearer: bearer.key,
        body: { name: 'unrecorded', scopes: ['read:users'] },
      });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    const keys = await world.server.db.selectFrom('api_keys').select('name').where('user_id', '=', dan.id).execute();
    assert.equal(keys.length, 1, 'only the bearer key exists');
  });

  it('rows cannot be changed once written', async () => {
    const [first] = await world.server.built.services.auditLog.list({}, { limit: 1 });
    assert.ok(first);
    await assert.rejects(
      world.server.db.updateTable('audit_events').set({ type: 'api_key.created' }).where('id', '=', first.id).execute(),
      /append-only/,
    );
  });
});
