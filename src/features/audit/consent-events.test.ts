// The audit trail for what a person grants applications: consent given on the consent page, taken
// back (one application, every application after a password change, an admin's grants on
// demotion), and a replayed refresh token that made the provider revoke the grant. Each names who
// acted, whose consent it was and the request; a change that fails leaves no event.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { Browser, csrfFrom, formAction } from '../../../test/support/http.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { linkIn, mailboxOf, tokenOf } from '../../../test/support/mailbox.ts';
import { codeFlow, newApp, refresh, revoke, token, type RegisteredApp } from '../../../test/support/oauth.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import { sha256 } from '../../shared/secrets.ts';
import type { AuditEntry } from '../../domain/audit.ts';

describe('audit trail: consents and token reuse', () => {
  let world: TestWorld;
  let app: RegisteredApp;
  // No grace: a rotated refresh token presented again is reuse at once.
  before(async () => {
    world = await startWorld({ env: { REFRESH_TOKEN_REUSE_GRACE: '0' } });
    app = await newApp(world.server, { scopes: ['read:users', 'write:projects'] });
  });
  after(() => world.close());

  const trailOf = (accountId: string) => world.server.built.services.auditLog.list({ accountId }, { limit: 100 });
  const eventsOf = async (accountId: string, type: string): Promise<AuditEntry[]> =>
    (await trailOf(accountId)).filter((e) => e.type === type && e.target?.id === app.client_id);
  /** The provider revokes a replayed token's grant after answering: its record follows shortly. */
  async function eventually(accountId: string, type: string): Promise<AuditEntry[]> {
    for (let i = 0; i < 50; i++) {
      const found = await eventsOf(accountId, type);
      if (found.length) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return [];
  }
  const person = (u: TestUser) => ({ type: 'user', id: u.id, accountId: u.id, label: u.email });
  const consentRows = (u: TestUser) =>
    world.server.db.selectFrom('consents').select('client_id').where('user_id', '=', u.id).execute();

  it('consent given on the consent page names the person deciding, the application and the scopes', async () => {
    const alice = await world.user();
    const flow = await codeFlow(world.server, app, alice, { scope: 'read:users write:projects' });
    assert.equal(flow.sawConsent, true);
    const [granted] = await eventsOf(alice.id, 'consent.granted');
    assert.ok(granted);
    assert.deepEqual(granted.actor, person(alice));
    assert.equal(granted.accountId, alice.id);
    assert.deepEqual(granted.target, { type: 'application', id: app.client_id });
    assert.deepEqual(granted.data, { client_id: app.client_id, scopes: ['read:users', 'write:projects'] });
    assert.match(granted.ip ?? '', /127\.0\.0\.1/);
    assert.ok(granted.requestId, 'the request id is recorded');
  });

  it('revoked in the dashboard names the person; through the API with an admin:all key, the key', async () => {
    const bob = await world.user();
    await codeFlow(world.server, app, bob);
    const page = await (await bob.browser.get('/settings/authorized-apps')).text();
    const res = await bob.browser.postForm(`/settings/authorized-apps/${app.client_id}/revoke`, {
      _csrf: csrfFrom(page),
    });
    assert.equal(res.status, 303);
    const [byPerson] = await eventsOf(bob.id, 'consent.revoked');
    assert.ok(byPerson);
    assert.deepEqual(byPerson.actor, person(bob));
    assert.equal(byPerson.data['client_id'], app.client_id);

    const admin = await world.user({ admin: true });
    const key = await world.apiKey(admin, ['admin:all']);
    await codeFlow(world.server, app, admin);
    const headers = { 'X-Request-ID': 'audit-consent-1', 'User-Agent': 'audit-consent/1.0' };
    const revoked = await world.request('DELETE', `/v2/consents/${app.client_id}`, { bearer: key.key, headers });
    assert.equal(revoked.status, 204);
    const [byKey] = await eventsOf(admin.id, 'consent.revoked');
    assert.ok(byKey);
    assert.deepEqual(byKey.actor, { type: 'api_key', id: key.id, accountId: admin.id, label: null });
    assert.equal(byKey.requestId, 'audit-consent-1');
    assert.equal(byKey.userAgent, 'audit-consent/1.0');
  });

  it('every application revoked with a password change: one event each, the person acting', async () => {
    const carol = await world.user();
    await codeFlow(world.server, app, carol);
    const other = await newApp(world.server, { scopes: ['read:users'] });
    await codeFlow(world.server, other, carol);
    const page = await (await carol.browser.get('/settings/security')).text();
    const res = await carol.browser.postForm('/settings/security/password', {
      _csrf: csrfFrom(page),
      current_password: carol.password,
      new_password: 'another long password 42',
      revoke_applications: 'on',
    });
    assert.equal(res.status, 200);
    const revoked = (await trailOf(carol.id)).filter((e) => e.type === 'consent.revoked');
    assert.deepEqual(revoked.map((e) => e.target?.id).sort(), [app.client_id, other.client_id].sort());
    for (const e of revoked) assert.deepEqual(e.actor, person(carol));
  });

  it("an admin demoted loses the admin:all grants: revoked with the demoting admin's key as actor", async () => {
    const admin = await world.user({ admin: true });
    const powerful = await newApp(world.server, { scopes: ['admin:all'] }, admin.browser);
    await codeFlow(world.server, powerful, admin, { scope: 'admin:all' });
    const boss = await world.user({ admin: true });
    const key = await world.apiKey(boss, ['admin:all']);
    const demoted = await world.request('PATCH', `/v2/users/${admin.id}`, {
      bearer: key.key,
      body: { is_admin: false },
    });
    assert.equal(demoted.status, 200);
    const revoked = (await trailOf(admin.id)).find(
      (e) => e.type === 'consent.revoked' && e.target?.id === powerful.client_id,
    );
    assert.ok(revoked);
    assert.deepEqual(revoked.actor, { type: 'api_key', id: key.id, accountId: boss.id, label: null });
    assert.equal(revoked.accountId, admin.id);
  });

  it('a rotated refresh token presented again: token.reuse_detected, the client acting for the account', async () => {
    const dan = await world.user();
    const first = await codeFlow(world.server, app, dan);
    const { grant_id: grantId } = await world.server.db
      .selectFrom('consents')
      .select('grant_id')
      .where('user_id', '=', dan.id)
      .executeTakeFirstOrThrow();
    await refresh(world.server, app, first.refresh_token!);
    const reused = await request(world.server, 'POST', '/oauth/token', {
      body: {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
        client_id: app.client_id,
        client_secret: app.client_secret,
      },
      headers: { 'X-Request-ID': 'audit-reuse-1', 'User-Agent': 'replayer/1.0' },
    });
    assert.equal(reused.status, 400);
    assert.equal(reused.body['error'], 'invalid_grant');
    const [detected] = await eventually(dan.id, 'token.reuse_detected');
    assert.ok(detected, 'the reuse is recorded');
    assert.deepEqual(detected.actor, { type: 'client', id: app.client_id, accountId: dan.id, label: null });
    assert.equal(detected.accountId, dan.id);
    assert.deepEqual(detected.target, { type: 'application', id: app.client_id });
    assert.equal(detected.requestId, 'audit-reuse-1');
    assert.equal(detected.userAgent, 'replayer/1.0');
    assert.equal(detected.data['client_id'], app.client_id);
    assert.equal(detected.data['grant_type'], 'refresh_token');
    // The hash names the grant as the token table does (never the grant id, a lookup key).
    assert.equal(detected.data['grant_id_hash'], sha256(grantId));
    assert.deepEqual(await consentRows(dan), [], 'the consent went with the grant');
    assert.ok(!JSON.stringify(detected).includes(first.refresh_token!), 'the token itself is not recorded');
  });

  it('reuse is recorded with the consent it removes: when that transaction fails, neither changes', async () => {
    const ivy = await world.user();
    const first = await codeFlow(world.server, app, ivy);
    await refresh(world.server, app, first.refresh_token!);
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const again = await token(world.server, app, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
      assert.equal(again.status, 400);
      // The provider has answered; its listener's write fails meanwhile (and is logged).
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await restore();
    }
    assert.deepEqual(await eventsOf(ivy.id, 'token.reuse_detected'), []);
    assert.deepEqual(await consentRows(ivy), [{ client_id: app.client_id }], 'the consent stays with no record');
  });

  it('a refresh token revoked by its client is no reuse: no event', async () => {
    const erin = await world.user();
    const flow = await codeFlow(world.server, app, erin);
    assert.equal(await revoke(world.server, app, flow.refresh_token!), 200);
    const again = await token(world.server, app, { grant_type: 'refresh_token', refresh_token: flow.refresh_token });
    assert.equal(again.status, 400);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await eventsOf(erin.id, 'token.reuse_detected'), []);
  });

  it('is written with the change: a failed transaction leaves neither the change nor its event', async () => {
    const fay = await world.user();
    await codeFlow(world.server, app, fay);
    const before = (await trailOf(fay.id)).length;
    const page = await (await fay.browser.get('/settings/authorized-apps')).text();
    const restore = await failInsertsInto(world.server.db, 'webhook_events');
    try {
      const res = await fay.browser.postForm(`/settings/authorized-apps/${app.client_id}/revoke`, {
        _csrf: csrfFrom(page),
      });
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.equal((await trailOf(fay.id)).length, before);
    assert.deepEqual(await consentRows(fay), [{ client_id: app.client_id }]);
  });

  it('an event that cannot be written stops the change: no consent is remembered', async () => {
    const gus = await world.user();
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      await assert.rejects(codeFlow(world.server, app, gus));
    } finally {
      await restore();
    }
    assert.deepEqual(await consentRows(gus), []);
  });
});

// A password reset takes back every application's access; the page has no signed-in account, so
// the reset link's holder (the account's person) is named as acting, not "anonymous".
describe('audit trail: consents revoked by a password reset', () => {
  let smtp: TestSmtpServer;
  let world: TestWorld;
  before(async () => {
    smtp = await startSmtpServer();
    world = await startWorld({
      env: { EMAIL_URL: smtp.url, REQUIRE_EMAIL_VERIFICATION: 'false' },
      emailPollMs: 3_600_000,
    });
  });
  after(async () => {
    await world.close();
    await smtp.close();
  });

  it('names the person whose link it was', async () => {
    const app = await newApp(world.server, { scopes: ['read:users'] });
    const hana = await world.user();
    await codeFlow(world.server, app, hana);
    const mail = mailboxOf(world.server, smtp);
    const from = mail.mark();
    const browser = new Browser(world.url);
    const forgot = await (await browser.get('/password/forgot')).text();
    await browser.postForm(formAction(forgot, '/password/forgot'), { _csrf: csrfFrom(forgot), email: hana.email });
    const link = linkIn(await mail.one(hana.email, 'Reset your Latchkey password', from), '/password/reset');
    const page = await (await browser.get(link)).text();
    const reset = await browser.postForm(formAction(page, '/password/reset'), {
      _csrf: csrfFrom(page),
      token: tokenOf(link),
      new_password: 'a fresh tangerine umbrella',
    });
    assert.ok(reset.status < 400, `reset answered ${reset.status}`);
    const trail = await world.server.built.services.auditLog.list({ accountId: hana.id }, { limit: 50 });
    const revoked = trail.find((e) => e.type === 'consent.revoked');
    assert.ok(revoked);
    assert.deepEqual(revoked.actor, { type: 'user', id: hana.id, accountId: hana.id, label: null });
    assert.deepEqual(revoked.target, { type: 'application', id: app.client_id });
  });
});
