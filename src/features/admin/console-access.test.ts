// Who reaches the operators' console: admins see and change, auditors only see, everyone else
// finds no such page; a signed-out browser is sent to sign in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';

describe('admin console: who gets in', () => {
  let world: TestWorld;
  before(async () => (world = await startWorld()));
  after(() => world.close());

  it('an admin sees the overview with the console navigation', async () => {
    const admin = await world.user({ admin: true });
    const res = await admin.browser.get('/admin');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<nav class="sections" aria-label="Admin console">/);
    assert.match(html, /href="\/admin\/audit"/);
    // And the dashboard links to it.
    assert.match(await (await admin.browser.get('/dashboard')).text(), /href="\/admin">Admin console</);
  });

  it('anyone else gets "Page not found", and no link to it', async () => {
    const user = await world.user();
    assert.equal((await user.browser.get('/admin')).status, 404);
    assert.equal((await user.browser.get('/admin/users')).status, 404);
    assert.doesNotMatch(await (await user.browser.get('/dashboard')).text(), /href="\/admin"/);
  });

  it('a signed-out browser is sent to sign in and back', async () => {
    const res = await fetch(`${world.url}/admin`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/login?return_to=%2Fadmin');
  });

  it('an auditor sees the console, and any change it posts is refused', async () => {
    const auditor = await world.user();
    await world.server.db.updateTable('users').set({ is_auditor: 1 }).where('id', '=', auditor.id).execute();
    const res = await auditor.browser.get('/admin');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /You are an auditor/);
    const refused = await auditor.browser.postForm('/admin/users/x/disable', { _csrf: csrfFrom(html) });
    assert.equal(refused.status, 403);
  });
});
