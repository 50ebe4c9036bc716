import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { request, worldOn, type TestUser } from '../../../test/support/world.ts';

// Rotating an API key may give the new key a new expiry: `expires_at` on
// POST /v2/api-keys/{id}/rotate (null: none), a choice on the dashboard's rotate page. Left out,
// the new key keeps the old key's expiry, as before. The old key's grace period is unchanged.

const DAY = 86_400_000;

describe('rotating an API key chooses its new expiry', { timeout: 120_000 }, () => {
  let server: TestServer;
  const clock = Date.now();

  before(async () => {
    server = await startTestServer({ now: () => clock });
  });
  after(async () => {
    await server?.dispose();
  });

  const world = () => worldOn(server);
  const expiring = (u: TestUser, days: number) =>
    world().apiKey(u, ['read:users'], { expiresAt: new Date(clock + days * DAY) });

  async function rotate(u: TestUser, id: string, body?: unknown) {
    return request(u.browser, 'POST', `/v2/api-keys/${id}/rotate`, {
      ...(body === undefined ? {} : { body }),
      headers: { origin: server.url },
    });
  }

  it('API: no body keeps the expiry; expires_at sets a new one; null removes it', async () => {
    const u = await world().user({ tag: 'rot-exp' });
    const kept = await expiring(u, 3);
    const same = await rotate(u, kept.id);
    assert.equal(same.status, 201);
    assert.equal(same.body['expires_at'], kept.expires_at, 'left out: the old expiry, as before');

    const renewed = await expiring(u, 3);
    const until = new Date(clock + 90 * DAY).toISOString();
    const longer = await rotate(u, renewed.id, { expires_at: until });
    assert.equal(longer.status, 201);
    assert.equal(longer.body['expires_at'], until);
    const test = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${String(longer.body['key'])}` },
    });
    assert.equal(((await test.json()) as { expires_at: string }).expires_at, until);
    // The old key's grace still ends no later than its own expiry.
    const old = (await request(u.browser, 'GET', `/v2/api-keys/${renewed.id}`)).body;
    assert.ok(Date.parse(String(old['grace_until'])) <= Date.parse(renewed.expires_at!));

    const forever = await expiring(u, 3);
    const none = await rotate(u, forever.id, { expires_at: null });
    assert.equal(none.status, 201);
    assert.equal(none.body['expires_at'], null);
  });

  it('API: refuses an expiry in the past or not a date, and rotates nothing', async () => {
    const u = await world().user({ tag: 'rot-exp-bad' });
    const key = await expiring(u, 3);
    for (const expires of [new Date(clock - DAY).toISOString(), 'next week']) {
      await expectApiError(await rotate(u, key.id, { expires_at: expires }), 400, 'VALIDATION_FAILED', {
        field: 'expires_at',
      });
    }
    await expectApiError(await rotate(u, key.id, { expires_in: 30 }), 400, 'VALIDATION_FAILED');
    assert.equal((await request(u.browser, 'GET', `/v2/api-keys/${key.id}`)).body['replaced_by'], null);
  });

  it('dashboard: the rotate page offers the expiry, a fresh term by default for an expiring key', async () => {
    const u = await world().user({ tag: 'rot-exp-page' });
    const key = await expiring(u, 5);
    const page = await (await u.browser.get(`/settings/api-keys/${key.id}/rotate`)).text();
    assert.match(page, /Rotate the API key “test key”\?/);
    assert.match(page, /keeps working until/);
    assert.match(page, /value="90"\s+id="expires-90" checked/);
    assert.match(page, /value="keep"/);

    const posted = await u.browser.postForm(`/settings/api-keys/${key.id}/rotate`, {
      _csrf: csrfFrom(page),
      expires: '30',
    });
    assert.equal(posted.status, 303);
    const newId = /\/settings\/api-keys\/([^/]+)\/new-key$/.exec(posted.headers.get('location')!)![1]!;
    const fresh = (await request(u.browser, 'GET', `/v2/api-keys/${newId}`)).body;
    assert.equal(fresh['expires_at'], new Date(clock + 30 * DAY).toISOString());

    const other = await expiring(u, 5);
    const keep = await u.browser.postForm(`/settings/api-keys/${other.id}/rotate`, {
      _csrf: csrfFrom(page),
      expires: 'keep',
    });
    assert.equal(keep.status, 303);
    const keptId = /\/settings\/api-keys\/([^/]+)\/new-key$/.exec(keep.headers.get('location')!)![1]!;
    assert.equal((await request(u.browser, 'GET', `/v2/api-keys/${keptId}`)).body['expires_at'], other.expires_at);

    const bad = await expiring(u, 5);
    const past = await u.browser.postForm(`/settings/api-keys/${bad.id}/rotate`, {
      _csrf: csrfFrom(page),
      expires: 'date',
      expires_date: '2001-01-01',
    });
    assert.equal(past.status, 400);
    assert.match(await past.text(), /must be in the future/);
    assert.equal((await request(u.browser, 'GET', `/v2/api-keys/${bad.id}`)).body['replaced_by'], null);

    const neverExpiring = await world().apiKey(u, ['read:users']);
    const neverPage = await (await u.browser.get(`/settings/api-keys/${neverExpiring.id}/rotate`)).text();
    assert.match(neverPage, /value="keep"\s+id="expires-keep" checked/);
    assert.match(neverPage, /never expires/);
  });
});
