// An administrator suspends an application: from that instant nothing it holds works (an
// authorization, a code, a refresh token, client credentials, an issued access token at the API or
// at introspection), the owner cannot lift it, and unsuspending restores the grants it had. Each
// change leaves an audit event naming the admin as actor and the owner as account.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REDIRECT_URI, startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { authorizeUrl, csrfFrom } from '../../../test/support/http.ts';
import { authorizeAs, codeFlow, introspect, token } from '../../../test/support/oauth.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';

describe('application suspension', () => {
  let world: TestWorld;
  let admin: TestUser;
  before(async () => {
    world = await startWorld();
    admin = await world.user({ admin: true, tag: 'admin' });
  });
  after(() => world.close());

  /** Suspends or unsuspends through the console, as an admin does: the confirmation page, then its form. */
  async function act(clientId: string, action: 'suspend' | 'unsuspend', by = admin) {
    const page = await by.browser.get(`/admin/applications/${clientId}/${action}`);
    const html = await page.text();
    assert.equal(page.status, 200, html.slice(0, 300));
    return by.browser.postForm(`/admin/applications/${clientId}/${action}`, { _csrf: csrfFrom(html) });
  }

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 50 });

  it('refuses everything a suspended web application holds, and unsuspending restores its grants', async () => {
    const owner = await world.user({ tag: 'owner' });
    const person = await world.user({ tag: 'person' });
    const app = await world.app(owner, { scopes: ['read:users'] });
    const rs = await world.app(undefined, { type: 'resource_server', scopes: [] });
    const tokens = await codeFlow(world.server, app, person);
    const refreshToken = String(tokens.refresh_token);
    // A code issued before the suspension, not yet exchanged.
    const pending = await authorizeAs(world.server, app, person);
    const code = pending.redirect.searchParams.get('code')!;
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 200);

    assert.equal((await act(app.client_id, 'suspend')).status, 303);

    const atApi = await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token });
    assert.equal(atApi.status, 401, 'its access token is refused at the API');
    assert.equal((await introspect(world.server, rs, tokens.access_token))['active'], false);
    assert.equal((await introspect(world.server, rs, refreshToken))['active'], false, 'its refresh token too');
    const refreshed = await token(world.server, app, { grant_type: 'refresh_token', refresh_token: refreshToken });
    assert.equal(refreshed.status, 401);
    assert.equal(refreshed.body['error'], 'invalid_client');
    const exchanged = await token(world.server, app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(exchanged.body['error'], 'invalid_client', 'a code issued before is refused');
    const url = authorizeUrl(world.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users' });
    const authorize = await fetch(url, { redirect: 'manual' });
    assert.equal(authorize.status, 400, 'an error page, never a redirect');
    assert.equal(authorize.headers.get('location'), null);

    // The owner sees why, and cannot lift it (the owner's own API has no way to, and the console is not theirs).
    const detail = await (await owner.browser.get(`/settings/applications/${app.client_id}`)).text();
    assert.match(detail, /Suspended by an administrator/);
    assert.match(await (await owner.browser.get('/settings/applications')).text(), /Suspended by an administrator/);
    assert.equal((await owner.browser.get(`/admin/applications/${app.client_id}/unsuspend`)).status, 404);
    const ownerPost = await owner.browser.postForm(`/admin/applications/${app.client_id}/unsuspend`, {
      _csrf: csrfFrom(detail),
    });
    assert.equal(ownerPost.status, 404);
    assert.ok((await world.server.built.services.applicationSuspension.get(app.client_id)).suspended_at);

    assert.equal((await act(app.client_id, 'unsuspend')).status, 303);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 200);
    assert.equal((await introspect(world.server, rs, tokens.access_token))['active'], true);
    assert.equal((await introspect(world.server, rs, refreshToken))['active'], true);
    const again = await token(world.server, app, { grant_type: 'refresh_token', refresh_token: refreshToken });
    assert.equal(again.status, 200, JSON.stringify(again.body));

    const trail = await trailOf(owner.id);
    for (const type of ['application.suspended', 'application.unsuspended']) {
      const event = trail.find((e) => e.type === type && e.target?.id === app.client_id);
      assert.ok(event, `${type} is recorded`);
      assert.deepEqual(event.actor, { type: 'user', id: admin.id, accountId: admin.id, label: admin.email });
      assert.equal(event.accountId, owner.id);
    }
  });

  it('refuses client_credentials and the service tokens already issued', async () => {
    const owner = await world.user({ tag: 'svc-owner' });
    const service = await world.serviceToken(owner, ['read:users']);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: service.access_token })).status, 200);
    assert.equal((await act(service.app.client_id, 'suspend')).status, 303);
    const refused = await token(world.server, service.app, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(refused.status, 401);
    assert.equal(refused.body['error'], 'invalid_client');
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: service.access_token })).status, 401);
    assert.equal((await act(service.app.client_id, 'unsuspend')).status, 303);
    const back = await token(world.server, service.app, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(back.status, 200);
  });

  it('through the API: admin:all only, the change and its event in one transaction', async () => {
    const owner = await world.user({ tag: 'api-owner' });
    const app = await world.app(owner, { scopes: ['read:users'], name: 'Findable app' });
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const ownerKey = await world.apiKey(owner, ['read:users']);
    const path = `/v2/admin/applications/${app.client_id}/suspend`;
    assert.equal((await world.request('POST', path, { bearer: ownerKey.key })).status, 403);

    const listed = await world.request('GET', '/v2/admin/applications?search=findable', { bearer: adminKey.key });
    assert.equal(listed.status, 200);
    const rows = listed.body['data'] as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.map((r) => r['client_id']),
      [app.client_id],
    );
    assert.deepEqual(rows[0]!['owner'], { id: owner.id, email: owner.email });

    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const res = await world.request('POST', path, { bearer: adminKey.key });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await world.server.built.services.applicationSuspension.get(app.client_id)).suspended_at, null);
    assert.ok(await world.server.built.services.applications.clientMetadata(app.client_id), 'it still works');

    const done = await world.request('POST', path, { bearer: adminKey.key });
    assert.equal(done.status, 200);
    assert.ok(done.body['suspended_at']);
    const event = (await trailOf(owner.id)).find((e) => e.type === 'application.suspended');
    assert.deepEqual(event?.actor, { type: 'api_key', id: adminKey.id, accountId: admin.id, label: null });
  });

  it('pages through every application, newest first', async () => {
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const owner = await world.user({ tag: 'pager' });
    for (let i = 0; i < 3; i++) await world.app(owner, { scopes: [], name: `Paged ${i}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v2/admin/applications?search=paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await world.request('GET', q, { bearer: adminKey.key });
      assert.equal(res.status, 200);
      seen.push(...(res.body['data'] as Array<{ name: string }>).map((a) => a.name));
      cursor = res.body['next_cursor'] as string | null;
    } while (cursor);
    assert.deepEqual(seen, ['Paged 2', 'Paged 1', 'Paged 0']);
  });

  it('an auditor sees the list without change forms and cannot post; others find no page', async () => {
    const auditor = await world.user({ tag: 'auditor' });
    await world.server.db.updateTable('users').set({ is_auditor: 1 }).where('id', '=', auditor.id).execute();
    const owner = await world.user({ tag: 'watched' });
    const app = await world.app(owner, { scopes: [], name: 'Watched app' });
    const list = await auditor.browser.get('/admin/applications?search=watched');
    assert.equal(list.status, 200);
    const html = await list.text();
    assert.match(html, /Watched app/);
    assert.match(html, new RegExp(`href="/admin/users/${owner.id}"`));
    assert.doesNotMatch(html, /\/suspend"/);
    assert.equal((await auditor.browser.get(`/admin/applications/${app.client_id}/suspend`)).status, 403);
    const posted = await auditor.browser.postForm(`/admin/applications/${app.client_id}/suspend`, {
      _csrf: csrfFrom(html),
    });
    assert.equal(posted.status, 403);
    const stranger = await world.user({ tag: 'stranger' });
    assert.equal((await stranger.browser.get('/admin/applications')).status, 404);
    assert.equal((await world.server.built.services.applicationSuspension.get(app.client_id)).suspended_at, null);
  });
});
