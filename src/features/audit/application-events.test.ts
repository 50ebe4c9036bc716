// The audit trail for applications: created, changed (which settings, never a secret), secret
// rotated and deleted, each naming who acted (the signed-in person, an API key, the CLI's operator,
// or the client itself through dynamic registration), the owner, and the request; a change that
// fails leaves no event.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import { runCli } from '../../../test/support/process.ts';
import { cliDatabaseEnv } from '../../../test/support/database.ts';
import { SELF_REGISTERED_OWNER } from '../../domain/registration.ts';
import type { AuditEntry } from '../../domain/audit.ts';

describe('audit trail: applications', () => {
  let world: TestWorld;
  before(async () => (world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'open' } })));
  after(() => world.close());

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 100 });
  const eventOf = async (accountId: string, type: string, clientId: string): Promise<AuditEntry> => {
    const found = (await trailOf(accountId)).find((e) => e.type === type && e.target?.id === clientId);
    assert.ok(found, `${type} for ${clientId} is in the trail`);
    return found;
  };
  const app = { name: 'Audited', redirect_uris: ['https://app.example/cb'], scopes: ['read:users'] };

  it('created, changed, rotated and deleted with an API key: the key acts, the owner is the account', async () => {
    const alice = await world.user();
    const key = await world.apiKey(alice, ['read:users', 'write:applications']);
    const headers = { 'X-Request-ID': 'audit-app-1', 'User-Agent': 'audit-app/1.0' };
    const created = await world.request('POST', '/oauth/applications', { bearer: key.key, body: app, headers });
    assert.equal(created.status, 201);
    const clientId = String(created.body['client_id']);
    const actor = { type: 'api_key', id: key.id, accountId: alice.id, label: null };

    const made = await eventOf(alice.id, 'application.created', clientId);
    assert.deepEqual(made.actor, actor);
    assert.equal(made.accountId, alice.id);
    assert.deepEqual(made.target, { type: 'application', id: clientId });
    assert.equal(made.requestId, 'audit-app-1');
    assert.equal(made.userAgent, 'audit-app/1.0');
    assert.match(made.ip ?? '', /127\.0\.0\.1/);
    assert.equal(made.data['name'], 'Audited');

    const patch = { name: 'Renamed', redirect_uris: ['https://app.example/other'] };
    const changed = await world.request('PATCH', `/oauth/applications/${clientId}`, { bearer: key.key, body: patch });
    assert.equal(changed.status, 200);
    const change = await eventOf(alice.id, 'application.changed', clientId);
    assert.deepEqual(change.actor, actor);
    assert.deepEqual(change.data['fields'], ['name', 'redirect_uris']);

    const rotated = await world.request('POST', `/oauth/applications/${clientId}/secret`, { bearer: key.key });
    assert.equal(rotated.status, 200);
    const rotation = await eventOf(alice.id, 'application.secret_rotated', clientId);
    assert.deepEqual(rotation.actor, actor);
    const secret = String(rotated.body['client_secret']);
    const written = JSON.stringify(await trailOf(alice.id));
    assert.ok(!written.includes(secret) && !written.includes(String(created.body['client_secret'])), 'no secret');

    const deleted = await world.request('DELETE', `/oauth/applications/${clientId}`, { bearer: key.key });
    assert.equal(deleted.status, 204);
    assert.deepEqual((await eventOf(alice.id, 'application.deleted', clientId)).actor, actor);
  });

  it('created, rotated and deleted in the dashboard: the signed-in person acts', async () => {
    const bob = await world.user();
    const registered = await world.app(bob, { scopes: ['read:users'] });
    const person = { type: 'user', id: bob.id, accountId: bob.id, label: bob.email };
    assert.deepEqual((await eventOf(bob.id, 'application.created', registered.client_id)).actor, person);

    const path = `/settings/applications/${registered.client_id}`;
    const page = await (await bob.browser.get(path)).text();
    const rotated = await bob.browser.postForm(`${path}/secret`, { _csrf: csrfFrom(page), overlap: '0' });
    assert.ok(rotated.status < 400, `rotation answered ${rotated.status}`);
    assert.deepEqual((await eventOf(bob.id, 'application.secret_rotated', registered.client_id)).actor, person);

    const confirm = await (await bob.browser.get(`${path}/delete`)).text();
    assert.equal((await bob.browser.postForm(`${path}/delete`, { _csrf: csrfFrom(confirm) })).status, 303);
    assert.deepEqual((await eventOf(bob.id, 'application.deleted', registered.client_id)).actor, person);
  });

  it('dynamic registration: the client acts for its holder when it registers, changes and deletes itself', async () => {
    const reg = await world.request('POST', '/oauth/register', {
      body: { client_name: 'Self', redirect_uris: ['https://self.example/cb'], token_endpoint_auth_method: 'none' },
    });
    assert.equal(reg.status, 201, await reg.text());
    const clientId = String(reg.body['client_id']);
    const bearer = String(reg.body['registration_access_token']);
    const owner = SELF_REGISTERED_OWNER.id;
    const actor = { type: 'client', id: clientId, accountId: owner, label: null };
    const made = await eventOf(owner, 'application.created', clientId);
    assert.deepEqual(made.actor, actor);
    assert.equal(made.data['registration'], 'dynamic');

    const metadata: Record<string, unknown> = { ...reg.body, client_name: 'Self, renamed' };
    for (const field of ['registration_access_token', 'registration_client_uri', 'client_id_issued_at']) {
      delete metadata[field];
    }
    const updated = await world.request('PUT', `/oauth/register/${clientId}`, { bearer, body: metadata });
    assert.equal(updated.status, 200, await updated.text());
    const change = await eventOf(owner, 'application.changed', clientId);
    assert.deepEqual(change.actor, actor);
    assert.ok((change.data['fields'] as string[]).includes('name'));

    assert.equal((await world.request('DELETE', `/oauth/register/${clientId}`, { bearer })).status, 204);
    assert.deepEqual((await eventOf(owner, 'application.deleted', clientId)).actor, actor);
  });

  it('created from the CLI: the operator acts', async () => {
    const carol = await world.user();
    const env = cliDatabaseEnv(world.server.config);
    const run = await runCli(
      [
        'apps',
        'create',
        '--owner',
        carol.email,
        '--name',
        'From CLI',
        '--scopes',
        'read:users',
        '--redirect-uri',
        'https://cli.example/cb',
      ],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const clientId = String((JSON.parse(run.stdout) as Record<string, unknown>)['client_id']);
    const made = await eventOf(carol.id, 'application.created', clientId);
    assert.deepEqual(made.actor, { type: 'cli', id: null, accountId: null, label: null });
    assert.equal(made.requestId, null);
  });

  it('is written with the change: a failed transaction leaves neither the change nor its event', async () => {
    const dan = await world.user();
    const key = await world.apiKey(dan, ['read:users', 'write:applications']);
    const created = await world.request('POST', '/oauth/applications', { bearer: key.key, body: app });
    const clientId = String(created.body['client_id']);
    const secretHashOf = async () =>
      (
        await world.server.db
          .selectFrom('applications')
          .select('secret_hash')
          .where('client_id', '=', clientId)
          .executeTakeFirstOrThrow()
      ).secret_hash;
    const secretHash = await secretHashOf();
    const before = (await trailOf(dan.id)).length;
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const body = { name: 'Never' };
      const patched = await world.request('PATCH', `/oauth/applications/${clientId}`, { bearer: key.key, body });
      assert.ok(patched.status >= 500, `status ${patched.status}`);
      const rotated = await world.request('POST', `/oauth/applications/${clientId}/secret`, { bearer: key.key });
      assert.ok(rotated.status >= 500, `status ${rotated.status}`);
      const deleted = await world.request('DELETE', `/oauth/applications/${clientId}`, { bearer: key.key });
      assert.ok(deleted.status >= 500, `status ${deleted.status}`);
      const more = await world.request('POST', '/oauth/applications', {
        bearer: key.key,
        body: { ...app, name: 'No' },
      });
      assert.ok(more.status >= 500, `status ${more.status}`);
    } finally {
      await restore();
    }
    assert.equal((await trailOf(dan.id)).length, before);
    const rows = await world.server.db
      .selectFrom('applications')
      .select('name')
      .where('owner_id', '=', dan.id)
      .execute();
    assert.deepEqual(
      rows.map((r) => r.name),
      ['Audited'],
      'not renamed, not deleted, no second application',
    );
    assert.equal(await secretHashOf(), secretHash, 'the rotation was rolled back');
  });

  it('an event that cannot be written stops the change', async () => {
    const erin = await world.user();
    const key = await world.apiKey(erin, ['read:users', 'write:applications']);
    const created = await world.request('POST', '/oauth/applications', { bearer: key.key, body: app });
    const clientId = String(created.body['client_id']);
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const deleted = await world.request('DELETE', `/oauth/applications/${clientId}`, { bearer: key.key });
      assert.ok(deleted.status >= 500, `status ${deleted.status}`);
    } finally {
      await restore();
    }
    const rows = await world.server.db.selectFrom('applications').select('client_id').where('client_id', '=', clientId);
    assert.equal((await rows.execute()).length, 1, 'the application is still there');
  });
});
