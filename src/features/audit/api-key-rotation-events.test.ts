// The audit trail for API keys beyond creation and revocation by the owner: a rotation names the
// new key, and the keys an admin loses on demotion are revoked with the demoting admin as actor.
// Each is written with its change or not at all.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';

describe('audit trail: API key rotation and revocation on demotion', () => {
  let world: TestWorld;
  before(async () => (world = await startWorld()));
  after(() => world.close());

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 50 });

  it('a key rotated with another key names that key, the old key as target and the new one in data', async () => {
    const alice = await world.user({ admin: true });
    const bearer = await world.apiKey(alice, ['admin:all']);
    const old = await world.apiKey(alice, ['read:users'], { name: 'deploy' });
    const headers = { 'X-Request-ID': 'audit-rotate-1', 'User-Agent': 'audit-rotate/1.0' };
    const res = await world.request('POST', `/v2/api-keys/${old.id}/rotate`, { bearer: bearer.key, headers });
    assert.equal(res.status, 201);
    const rotated = (await trailOf(alice.id)).find((e) => e.type === 'api_key.rotated');
    assert.ok(rotated, 'the event is there');
    assert.deepEqual(rotated.actor, { type: 'api_key', id: bearer.id, accountId: alice.id, label: null });
    assert.equal(rotated.accountId, alice.id);
    assert.deepEqual(rotated.target, { type: 'api_key', id: old.id });
    assert.equal(rotated.data['replaced_by'], res.body['id']);
    assert.equal(rotated.data['name'], 'deploy');
    assert.equal(rotated.requestId, 'audit-rotate-1');
    assert.equal(rotated.userAgent, 'audit-rotate/1.0');
    assert.ok(!JSON.stringify(rotated).includes(String(res.body['key'])), 'the new key itself is not recorded');
  });

  it('a key rotated in the dashboard names the signed-in person', async () => {
    const bob = await world.user();
    const old = await world.apiKey(bob, ['read:users']);
    const page = await (await bob.browser.get(`/settings/api-keys/${old.id}/rotate`)).text();
    const res = await bob.browser.postForm(`/settings/api-keys/${old.id}/rotate`, {
      _csrf: csrfFrom(page),
      expires: 'keep',
    });
    assert.ok(res.status === 200 || res.status === 303, `status ${res.status}`);
    const rotated = (await trailOf(bob.id)).find((e) => e.type === 'api_key.rotated');
    assert.ok(rotated);
    assert.deepEqual(rotated.actor, { type: 'user', id: bob.id, accountId: bob.id, label: bob.email });
    assert.deepEqual(rotated.target, { type: 'api_key', id: old.id });
  });

  it("a demoted admin's admin:all keys are revoked, the demoting admin acting, the reason given", async () => {
    const carol = await world.user({ admin: true });
    const powerful = await world.apiKey(carol, ['admin:all']);
    const ordinary = await world.apiKey(carol, ['read:users']);
    const boss = await world.user({ admin: true });
    const key = await world.apiKey(boss, ['admin:all']);
    const res = await world.request('PATCH', `/v2/users/${carol.id}`, { bearer: key.key, body: { is_admin: false } });
    assert.equal(res.status, 200);
    const revoked = (await trailOf(carol.id)).filter((e) => e.type === 'api_key.revoked');
    assert.deepEqual(
      revoked.map((e) => e.target?.id),
      [powerful.id],
      'only the key that carried admin:all',
    );
    assert.deepEqual(revoked[0]!.actor, { type: 'api_key', id: key.id, accountId: boss.id, label: null });
    assert.equal(revoked[0]!.data['reason'], 'carried admin:all');
    const kept = await world.server.db
      .selectFrom('api_keys')
      .select('revoked_at')
      .where('id', '=', ordinary.id)
      .executeTakeFirstOrThrow();
    assert.equal(kept.revoked_at, null, 'the key without admin:all stays, and has no event');
  });

  it('is written with the change: a failed rotation leaves the old key alone and no event', async () => {
    const dan = await world.user();
    const old = await world.apiKey(dan, ['read:users']);
    const before = (await trailOf(dan.id)).length;
    const page = await (await dan.browser.get(`/settings/api-keys/${old.id}/rotate`)).text();
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const res = await dan.browser.postForm(`/settings/api-keys/${old.id}/rotate`, {
        _csrf: csrfFrom(page),
        expires: 'keep',
      });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await trailOf(dan.id)).length, before);
    const rows = await world.server.db
      .selectFrom('api_keys')
      .select(['id', 'replaced_by'])
      .where('user_id', '=', dan.id)
      .execute();
    assert.deepEqual(rows, [{ id: old.id, replaced_by: null }]);
  });
});
