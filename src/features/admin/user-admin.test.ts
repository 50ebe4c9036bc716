// The console's user actions, through /v2/admin/users and the /admin pages: each leaves its audit
// record with the admin as actor (and none when the change fails), admins cannot lock themselves
// out or remove the last admin, and nobody but an admin changes anything.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

describe('admin: users', () => {
  let world: TestWorld;
  let admin: TestUser;
  let adminKey: string;
  before(async () => {
    world = await startWorld();
    admin = await world.user({ admin: true, tag: 'ua-admin' });
    adminKey = (await world.apiKey(admin, ['admin:all'])).key;
  });
  after(() => world.close());

  const services = () => world.server.built.services;
  const trailOf = (accountId: string) => services().auditLog.list({ accountId }, { limit: 50 });
  const asAdmin = (method: string, path: string, body?: unknown) =>
    world.request(method, path, { bearer: adminKey, ...(body === undefined ? {} : { body }) });
  const adminActor = () => ({ type: 'api_key', accountId: admin.id });

  it('finds accounts by part of the email, any case, a keyset page at a time', async () => {
    const tag = `find${Date.now()}`;
    for (let i = 0; i < 3; i++) await world.user({ tag: `${tag}-${i}` });
    const first = await asAdmin('GET', `/v2/admin/users?q=${tag.toUpperCase()}&limit=2`);
    assert.equal(first.status, 200);
    const page1 = first.body['data'] as Array<{ email: string }>;
    assert.equal(page1.length, 2);
    const next = first.body['next_after'] as string;
    const second = await asAdmin('GET', `/v2/admin/users?q=${tag}&limit=2&after=${encodeURIComponent(next)}`);
    const page2 = second.body['data'] as Array<{ email: string }>;
    assert.equal(page2.length, 1);
    assert.ok(page2[0]!.email > page1[1]!.email);
  });

  it('shows one account in full', async () => {
    const u = await world.user({ tag: 'ua-view' });
    await world.apiKey(u, ['read:users'], { name: 'viewed key' });
    const res = await asAdmin('GET', `/v2/admin/users/${u.id}`);
    assert.equal(res.status, 200);
    assert.equal(res.body['email'], u.email);
    assert.equal(res.body['two_factor'], false);
    assert.deepEqual(
      (res.body['api_keys'] as Array<{ name: string }>).map((k) => k.name),
      ['viewed key'],
    );
    assert.equal((res.body['sessions'] as { browser: number }).browser, 1);
  });

  it('disable and enable each leave their record, the admin as actor', async () => {
    const u = await world.user({ tag: 'ua-dis' });
    assert.equal((await asAdmin('POST', `/v2/admin/users/${u.id}/disable`)).status, 200);
    assert.equal((await asAdmin('POST', `/v2/admin/users/${u.id}/enable`)).status, 200);
    const trail = await trailOf(u.id);
    for (const type of ['account.disabled', 'account.enabled']) {
      const e = trail.find((x) => x.type === type);
      assert.ok(e, type);
      assert.deepEqual({ type: e.actor.type, accountId: e.actor.accountId }, adminActor());
      assert.deepEqual(e.target, { type: 'account', id: u.id });
    }
  });

  it('resets the second factor (passkeys stay), recorded', async () => {
    const u = await world.user({ tag: 'ua-2fa', twoFactor: true });
    const res = await asAdmin('POST', `/v2/admin/users/${u.id}/reset-2fa`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body['two_factor'], false);
    const codes = await world.server.db
      .selectFrom('recovery_codes')
      .select('code_hash')
      .where('user_id', '=', u.id)
      .execute();
    assert.equal(codes.length, 0);
    assert.ok((await trailOf(u.id)).some((e) => e.type === 'two_factor.reset' && e.actor.accountId === admin.id));
    assert.equal((await asAdmin('POST', `/v2/admin/users/${u.id}/reset-2fa`)).status, 409, 'already off');
  });

  it('sends a password-reset email, recorded with it', async () => {
    const u = await world.user({ tag: 'ua-reset' });
    const res = await asAdmin('POST', `/v2/admin/users/${u.id}/send-password-reset`);
    assert.equal(res.status, 204);
    const mail = await world.server.db
      .selectFrom('email_outbox')
      .select('template')
      .where('recipient', '=', u.email)
      .execute();
    assert.ok(mail.some((m) => m.template === 'password-reset'));
    assert.ok((await trailOf(u.id)).some((e) => e.type === 'password_reset.sent'));
  });

  it('changes roles, one record per role; a demotion takes admin:all away', async () => {
    const u = await world.user({ tag: 'ua-roles' });
    let res = await asAdmin('PUT', `/v2/admin/users/${u.id}/roles`, { admin: true, auditor: true });
    assert.equal(res.status, 200);
    assert.equal(res.body['is_admin'], true);
    const key = await world.apiKey({ ...u, isAdmin: true }, ['admin:all']);
    res = await asAdmin('PUT', `/v2/admin/users/${u.id}/roles`, { admin: false, auditor: true });
    assert.equal(res.body['is_admin'], false);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: key.key })).status, 401, 'admin key revoked');
    const changes = (await trailOf(u.id)).filter((e) => e.type === 'account.role_changed').map((e) => e.data);
    assert.deepEqual(changes.reverse(), [
      { role: 'admin', granted: true },
      { role: 'auditor', granted: true },
      { role: 'admin', granted: false },
    ]);
  });

  it('a failed change leaves neither the change nor its record', async () => {
    const u = await world.user({ tag: 'ua-fail', twoFactor: true });
    // The account's own making (sign-up, sign-in, 2FA on) is already in its trail.
    const before = await trailOf(u.id);
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      for (const action of ['disable', 'reset-2fa', 'send-password-reset']) {
        assert.ok((await asAdmin('POST', `/v2/admin/users/${u.id}/${action}`)).status >= 500, action);
      }
      const roles = await asAdmin('PUT', `/v2/admin/users/${u.id}/roles`, { admin: false, auditor: true });
      assert.ok(roles.status >= 500);
    } finally {
      await restore();
    }
    const row = await services().accounts.findById(u.id);
    assert.equal(row?.disabled, false);
    assert.equal(row?.isAuditor, false);
    assert.equal(row?.twoFactor, true);
    assert.deepEqual(await trailOf(u.id), before);
    // And an audit record that cannot be written stops the change.
    const stop = await failInsertsInto(world.server.db, 'audit_events');
    try {
      assert.ok((await asAdmin('POST', `/v2/admin/users/${u.id}/disable`)).status >= 500);
    } finally {
      await stop();
    }
    assert.equal((await services().accounts.findById(u.id))?.disabled, false);
  });

  it('deleting through the console records account.deleted with the admin as actor', async () => {
    const u = await world.user({ tag: 'ua-del' });
    const page = await (await admin.browser.get(`/admin/users/${u.id}/delete`)).text();
    const res = await admin.browser.postForm(`/admin/users/${u.id}/delete`, { _csrf: csrfFrom(page) });
    assert.equal(res.status, 303);
    assert.equal(await services().accounts.findById(u.id), null);
    const deleted = (await trailOf(u.id)).find((e) => e.type === 'account.deleted');
    assert.ok(deleted);
    assert.deepEqual(deleted.actor, { type: 'user', id: admin.id, accountId: admin.id, label: admin.email });
  });

  it('an admin cannot disable, demote or delete themselves', async () => {
    const self = await world.request('POST', `/v2/admin/users/${admin.id}/disable`, { bearer: adminKey });
    assert.equal(self.status, 409);
    assert.match(String((self.body['error'] as { message: string }).message), /your own account/);
    const demote = await asAdmin('PUT', `/v2/admin/users/${admin.id}/roles`, { admin: false, auditor: false });
    assert.equal(demote.status, 409);
    const page = await (await admin.browser.get(`/admin/users/${admin.id}/delete`)).text();
    const del = await admin.browser.postForm(`/admin/users/${admin.id}/delete`, { _csrf: csrfFrom(page) });
    assert.equal(del.status, 409);
    assert.match(await del.text(), /your own account/);
    assert.equal((await services().accounts.findById(admin.id))?.isAdmin, true);
  });

  it('the last admin who can sign in cannot be disabled, demoted or deleted', async () => {
    // Every other admin of this server is disabled for the test, then enabled again.
    const others = await world.server.db
      .selectFrom('users')
      .select('id')
      .where('is_admin', '=', 1)
      .where('disabled_at', 'is', null)
      .execute();
    const last = await world.user({ admin: true, tag: 'ua-last' });
    const ids = others.map((o) => o.id).filter((id) => id !== admin.id);
    if (ids.length) await world.server.db.updateTable('users').set({ disabled_at: 1 }).where('id', 'in', ids).execute();
    try {
      // `admin` is set aside the same way, leaving `last` the only admin who can sign in.
      await sql`UPDATE users SET disabled_at = 1 WHERE id = ${admin.id}`.execute(world.server.db);
      const cli = services().userAdmin;
      await assert.rejects(cli.disable('cli', last.id, BY_SYSTEM), /last admin/);
      await assert.rejects(cli.setRoles('cli', last.id, { admin: false, auditor: false }, BY_SYSTEM), /last admin/);
      // Nor through /v2/users: PATCH is_admin=false, or DELETE.
      const own = sessionPrincipal(last);
      await assert.rejects(services().users.update(own, last.id, { is_admin: false }, BY_SYSTEM), /last admin/);
      await assert.rejects(services().users.remove(own, last.id, BY_SYSTEM), /last admin/);
      assert.equal((await services().accounts.findById(last.id))?.isAdmin, true);
    } finally {
      await world.server.db
        .updateTable('users')
        .set({ disabled_at: null })
        .where('id', 'in', [...ids, admin.id])
        .execute();
      services().credentialEvents.publish({ kind: 'account', id: admin.id });
    }
  });

  it('refuses every credential without admin:all (403)', async () => {
    const u = await world.user({ tag: 'ua-nonadmin' });
    const key = await world.apiKey(u, ['read:users', 'write:users']);
    for (const [method, path] of [
      ['GET', '/v2/admin/users'],
      ['GET', `/v2/admin/users/${u.id}`],
      ['POST', `/v2/admin/users/${admin.id}/disable`],
    ] as const) {
      assert.equal((await world.request(method, path, { bearer: key.key })).status, 403, path);
    }
    const roles = await world.request('PUT', `/v2/admin/users/${u.id}/roles`, {
      bearer: key.key,
      body: { admin: true, auditor: false },
    });
    assert.equal(roles.status, 403);
  });

  it('an auditor sees the user pages without forms, and cannot post', async () => {
    const auditor = await world.user({ tag: 'ua-auditor' });
    await asAdmin('PUT', `/v2/admin/users/${auditor.id}/roles`, { admin: false, auditor: true });
    const target = await world.user({ tag: 'ua-audited' });
    const list = await auditor.browser.get(`/admin/users?q=${encodeURIComponent(target.email)}`);
    assert.equal(list.status, 200);
    assert.match(await list.text(), new RegExp(target.email.replace(/[.+]/g, '\\$&')));
    const page = await (await auditor.browser.get(`/admin/users/${target.id}`)).text();
    assert.doesNotMatch(page, /\/disable"|\/reset-2fa"|\/roles"/);
    const res = await auditor.browser.postForm(`/admin/users/${target.id}/disable`, { _csrf: csrfFrom(page) });
    assert.equal(res.status, 403);
    assert.equal((await services().accounts.findById(target.id))?.disabled, false);
  });

  it('an admin disables from the console after a confirmation', async () => {
    const u = await world.user({ tag: 'ua-console' });
    const view = await (await admin.browser.get(`/admin/users/${u.id}`)).text();
    assert.match(view, new RegExp(`/admin/users/${u.id}/disable`));
    const confirm = await (await admin.browser.get(`/admin/users/${u.id}/disable`)).text();
    assert.match(confirm, /Disable account/);
    const res = await admin.browser.postForm(`/admin/users/${u.id}/disable`, { _csrf: csrfFrom(confirm) });
    assert.equal(res.status, 303);
    assert.equal((await services().accounts.findById(u.id))?.disabled, true);
  });
});
