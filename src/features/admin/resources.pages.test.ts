// The console's API keys, webhooks, signing keys and settings pages: admins see and act, auditors
// see without forms, everyone else finds no page; a change needs a recent sign-in and leaves an
// audit event written with it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';

describe('admin console: API keys, webhooks, signing keys, settings', () => {
  let world: TestWorld;
  let admin: TestUser;
  let auditor: TestUser;
  let skew = 0;
  before(async () => {
    world = await startWorld({
      now: () => Date.now() + skew,
      env: { EMAIL_URL: 'smtp://mailer:hunter2-secret@127.0.0.1:9', REQUIRE_EMAIL_VERIFICATION: 'false' },
    });
    admin = await world.user({ admin: true, tag: 'admin' });
    auditor = await world.user({ tag: 'auditor' });
    await world.server.db.updateTable('users').set({ is_auditor: 1 }).where('id', '=', auditor.id).execute();
  });
  after(() => world.close());

  const trailOf = (accountId: string | null) =>
    world.server.built.services.auditLog.list(accountId === null ? {} : { accountId }, { limit: 50 });

  it('every page answers admins and auditors, and nobody else', async () => {
    const stranger = await world.user({ tag: 'stranger' });
    for (const path of ['/admin/api-keys', '/admin/webhooks', '/admin/signing-keys', '/admin/settings']) {
      assert.equal((await admin.browser.get(path)).status, 200, path);
      assert.equal((await auditor.browser.get(path)).status, 200, path);
      assert.equal((await stranger.browser.get(path)).status, 404, path);
    }
  });

  it('lists live keys by owner; an admin revokes one and the trail names the admin and the owner', async () => {
    const owner = await world.user({ tag: 'keyowner' });
    const key = await world.apiKey(owner, ['read:users'], { name: 'owned key' });
    const list = await (await admin.browser.get(`/admin/api-keys?owner=${encodeURIComponent(owner.email)}`)).text();
    assert.match(list, /owned key/);
    assert.doesNotMatch(list, new RegExp(key.key));
    assert.match(list, new RegExp(`/admin/api-keys/${key.id}/revoke`));
    const seenByAuditor = await (await auditor.browser.get('/admin/api-keys')).text();
    assert.doesNotMatch(seenByAuditor, /\/revoke"/, 'no change form for an auditor');

    // An event that cannot be written stops the revocation.
    const confirm = await (await admin.browser.get(`/admin/api-keys/${key.id}/revoke`)).text();
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const res = await admin.browser.postForm(`/admin/api-keys/${key.id}/revoke`, { _csrf: csrfFrom(confirm) });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: key.key })).status, 200, 'still live');

    const done = await admin.browser.postForm(`/admin/api-keys/${key.id}/revoke`, { _csrf: csrfFrom(confirm) });
    assert.equal(done.status, 303);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: key.key })).status, 401);
    const revoked = (await trailOf(owner.id)).find((e) => e.type === 'api_key.revoked' && e.target?.id === key.id);
    assert.deepEqual(revoked?.actor, { type: 'user', id: admin.id, accountId: admin.id, label: admin.email });
    assert.equal(revoked?.accountId, owner.id);
    const after = await (await admin.browser.get(`/admin/api-keys?owner=${encodeURIComponent(owner.email)}`)).text();
    assert.doesNotMatch(after, /owned key/, 'a revoked key is not live');

    const adminKey = await world.apiKey(admin, ['admin:all']);
    const api = await world.request('GET', `/v2/admin/api-keys?owner_email=${encodeURIComponent(admin.email)}`, {
      bearer: adminKey.key,
    });
    assert.equal(api.status, 200);
    assert.ok((api.body['data'] as Array<{ id: string }>).some((k) => k.id === adminKey.id));
  });

  it("shows each endpoint's delivery health from its deliveries", async () => {
    const owner = await world.user({ tag: 'hookowner' });
    const t = world.server.now();
    const db = world.server.db;
    await db
      .insertInto('webhook_endpoints')
      .values({
        id: 'wh_health_1',
        user_id: owner.id,
        url: 'https://hooks.example/in',
        events: '["*"]',
        description: null,
        secret_enc: 'x',
        previous_secret_enc: null,
        previous_secret_until: null,
        status: 'active',
        disabled_reason: null,
        failing_since: t - 60_000,
        last_claimed_at: null,
        created_at: t,
        updated_at: t,
      })
      .execute();
    // One event per delivery: an event is delivered to an endpoint once.
    await db
      .insertInto('webhook_events')
      .values(
        [1, 2, 3, 4, 5].map((i) => ({
          id: `evt_health_${i}`,
          user_id: owner.id,
          type: 'user.updated',
          body: '{}',
          created_at: t,
        })),
      )
      .execute();
    const delivery = (id: string, status: string, at: number | null, error: string | null) => ({
      id,
      event_id: id.replace('del_h', 'evt_health_'),
      endpoint_id: 'wh_health_1',
      status,
      attempts: at === null ? 0 : 1,
      next_attempt_at: t + 3_600_000,
      locked_until: null,
      last_status_code: error ? 503 : 200,
      last_error: error,
      last_latency_ms: 5,
      last_attempt_at: at,
      delivered_at: status === 'succeeded' ? at : null,
      created_at: t,
    });
    await db
      .insertInto('webhook_deliveries')
      .values([
        delivery('del_h1', 'succeeded', t - 120_000, null),
        delivery('del_h2', 'succeeded', t - 110_000, null),
        delivery('del_h3', 'failed', t - 60_000, 'HTTP 503 from the receiver'),
        delivery('del_h4', 'pending', null, null),
        delivery('del_h5', 'succeeded', t - 2 * 86_400_000, null),
      ])
      .execute();
    await db
      .insertInto('webhook_attempts')
      .values({
        delivery_id: 'del_h3',
        attempt: 1,
        at: t - 60_000,
        status_code: 503,
        latency_ms: 5,
        error: 'HTTP 503 from the receiver',
      })
      .execute();
    const [health] = (await world.server.built.services.webhookHealth.list()).filter((e) => e.id === 'wh_health_1');
    assert.ok(health);
    assert.equal(health.lastSuccessAt, new Date(t - 110_000).toISOString());
    assert.equal(health.lastFailure?.error, 'HTTP 503 from the receiver');
    assert.equal(health.pending, 1);
    assert.equal(health.attemptedLastDay, 3, 'the delivery of two days ago is outside the window');
    assert.equal(Math.round(health.successRate! * 100), 67);
    assert.equal(health.failingSince, new Date(t - 60_000).toISOString());
    const html = await (await auditor.browser.get('/admin/webhooks')).text();
    assert.match(html, /https:\/\/hooks\.example\/in/);
    assert.match(html, /HTTP 503 from the receiver/);
    assert.match(html, /67%/);
  });

  it('shows the settings in effect with every secret masked', async () => {
    const html = await (await auditor.browser.get('/admin/settings')).text();
    assert.doesNotMatch(html, /hunter2-secret/);
    assert.match(html, /smtp:\/\/mailer:\*\*\*\*\*@127\.0\.0\.1:9/);
    assert.doesNotMatch(html, /test-jwt-secret/, 'JWT_SECRET is shown only as set');
    assert.match(
      html,
      /<code>JWT_SECRET<\/code><\/th>\s*<td data-label="Value"><code>set<\/code><\/td>\s*<td[^>]*>Environment/,
    );
    assert.match(
      html,
      /<code>SIGNUP<\/code><\/th>\s*<td data-label="Value"><code>open<\/code><\/td>\s*<td[^>]*>Default/,
    );
  });

  it('rotates the signing keys from the browser; the page says the new key signs after a restart', async () => {
    const before = await (await admin.browser.get('/admin/signing-keys')).text();
    assert.match(before, /Signs now/);
    assert.doesNotMatch(await (await auditor.browser.get('/admin/signing-keys')).text(), /signing-keys\/rotate"/);
    const confirm = await (await admin.browser.get('/admin/signing-keys/rotate')).text();
    const res = await admin.browser.postForm('/admin/signing-keys/rotate', { _csrf: csrfFrom(confirm) });
    assert.equal(res.status, 303);
    const rotated = (await trailOf(null)).find((e) => e.type === 'signing_keys.rotated');
    assert.ok(rotated);
    assert.equal(rotated.actor.id, admin.id);
    const newKid = String(rotated.data['kid']);
    const page = await (await admin.browser.get('/admin/signing-keys?done=rotated')).text();
    assert.match(page, /Signs after the next restart/);
    assert.match(page, new RegExp(newKid));
    // This instance still publishes (and signs with) the keys it loaded.
    const jwks = (await (await fetch(`${world.url}/oauth/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(!jwks.keys.some((k) => k.kid === newKid));
  });

  it('a change after FRESH_AUTH_MAX_AGE asks for the password again and changes nothing', async () => {
    const owner = await world.user({ tag: 'late' });
    const key = await world.apiKey(owner, ['read:users']);
    const confirm = await (await admin.browser.get(`/admin/api-keys/${key.id}/revoke`)).text();
    skew += 11 * 60_000;
    try {
      const res = await admin.browser.postForm(`/admin/api-keys/${key.id}/revoke`, { _csrf: csrfFrom(confirm) });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location') ?? '', /^\/settings\/confirm\?return_to=/);
    } finally {
      skew -= 11 * 60_000;
    }
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: key.key })).status, 200);
  });
});
