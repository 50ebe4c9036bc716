// The audit trail of an account's own credentials and life: created (first-run setup, sign-up, an
// admin's API call), password changed and reset, email changed, passkeys, two-factor, deleted by
// itself. Each change leaves one record naming who acted, whose account it is, what it touched and
// the request; when its record cannot be written, the change does not happen.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, PASSWORD, uniqueEmail, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { Browser, csrfFrom, formAction } from '../../../test/support/http.ts';
import { failInsertsInto } from '../../../test/support/fail-writes.ts';
import { startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { linkIn, mailboxOf, tokenOf } from '../../../test/support/mailbox.ts';
import { SoftAuthenticator } from '../../../test/support/soft-authenticator.ts';
import type { AuditEntry } from '../../domain/audit.ts';

const HOUR = 3_600_000;
let sent = 0;

describe('audit trail: account events', () => {
  let clock = Date.UTC(2026, 11, 1, 12, 0, 0);
  let world: TestWorld;
  let smtp: TestSmtpServer;
  let mail: ReturnType<typeof mailboxOf>;
  before(async () => {
    smtp = await startSmtpServer();
    world = await startWorld({
      now: () => clock,
      env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey <mailer@example.com>', REQUIRE_EMAIL_VERIFICATION: 'false' },
      emailPollMs: HOUR,
    });
    mail = mailboxOf(world.server, smtp);
  });
  after(async () => {
    await world.close();
    await smtp.close();
  });

  const factsOf = () => ({ requestId: `account-${++sent}`, ip: `198.51.100.${sent % 250}` });
  type Facts = ReturnType<typeof factsOf>;

  /** Posts `fields` to `action` with the CSRF token of `page` (opened first), sending the request facts. */
  async function postFrom(browser: Browser, page: string, action: string, fields: Record<string, string>, f: Facts) {
    const html = await (await browser.get(page)).text();
    return browser.request(action, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'X-Request-ID': f.requestId,
        'X-Forwarded-For': f.ip,
      },
      body: new URLSearchParams({ _csrf: csrfFrom(html), ...fields }).toString(),
    });
  }

  /** The one record of `type` made by the request. */
  async function recordOf(f: Facts, type: string): Promise<AuditEntry> {
    const all = await world.server.built.services.auditLog.list({}, { limit: 500 });
    const found = all.filter((e) => e.requestId === f.requestId && e.type === type);
    assert.equal(
      found.length,
      1,
      `one ${type} from ${f.requestId}; got ${all.filter((e) => e.requestId === f.requestId).map((e) => e.type)}`,
    );
    assert.equal(found[0]!.ip, f.ip);
    return found[0]!;
  }
  const byUser = (u: Pick<TestUser, 'id' | 'email'>) => ({ type: 'user', id: u.id, accountId: u.id, label: u.email });
  const accountTarget = (id: string) => ({ type: 'account', id });

  /**
   * With the audit table refusing inserts, `act` fails (5xx) and what `state` reads is as before:
   * the change and its record commit together or not at all.
   */
  async function unrecordedChangeFails(act: () => Promise<Response>, state: () => Promise<unknown>) {
    const before = await state();
    const restore = await failInsertsInto(world.server.db, 'audit_events');
    try {
      const res = await act();
      assert.ok(res.status >= 500, `status ${res.status}`);
    } finally {
      await restore();
    }
    assert.deepEqual(await state(), before);
  }
  const userRow = (id: string) =>
    world.server.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  const admins = () => world.server.db.selectFrom('users').select('id').where('is_admin', '=', 1).execute();

  // First, while no admin exists: the setup link.
  it('first-run setup records account.created by the new owner; unrecorded, no owner is made', async () => {
    const link = (await world.server.built.services.setup.issueLink())!;
    const path = new URL(link).pathname + new URL(link).search;
    const email = uniqueEmail('owner');
    const fields = { token: tokenOf(path), email, name: 'Owner', password: PASSWORD };
    await unrecordedChangeFails(() => postFrom(new Browser(world.url), path, '/setup', fields, factsOf()), admins);
    const f = factsOf();
    const res = await postFrom(new Browser(world.url), path, '/setup', fields, f);
    assert.equal(res.status, 303);
    const [owner] = await admins();
    const created = await recordOf(f, 'account.created');
    assert.deepEqual(created.actor, byUser({ id: owner!.id, email }));
    assert.equal(created.accountId, owner!.id);
    assert.deepEqual(created.target, accountTarget(owner!.id));
    assert.deepEqual(created.data, { email, is_admin: true, via: 'setup' });
  });

  it('sign-up records account.created by the new account; unrecorded, no account is made', async () => {
    const email = uniqueEmail('signup');
    const fields = { email, password: PASSWORD, name: 'New' };
    const byEmail = () => world.server.db.selectFrom('users').select('id').where('email', '=', email).execute();
    await unrecordedChangeFails(
      () => postFrom(new Browser(world.url), '/signup', '/signup', fields, factsOf()),
      byEmail,
    );
    const f = factsOf();
    assert.equal((await postFrom(new Browser(world.url), '/signup', '/signup', fields, f)).status, 200);
    const [row] = await byEmail();
    const created = await recordOf(f, 'account.created');
    assert.deepEqual(created.actor, byUser({ id: row!.id, email }));
    assert.deepEqual(created.target, accountTarget(row!.id));
    assert.deepEqual(created.data, { email, is_admin: false });
  });

  it('an account an admin creates through the API names the admin credential', async () => {
    const admin = await world.user({ admin: true, tag: 'admin' });
    const key = await world.apiKey(admin, ['admin:all']);
    const f = factsOf();
    const email = uniqueEmail('made');
    const res = await world.request('POST', '/v2/users', {
      bearer: key.key,
      body: { email, password: PASSWORD },
      headers: { 'X-Request-ID': f.requestId, 'X-Forwarded-For': f.ip },
    });
    assert.equal(res.status, 201);
    const created = await recordOf(f, 'account.created');
    assert.deepEqual(created.actor, { type: 'api_key', id: key.id, accountId: admin.id, label: null });
    assert.equal(created.accountId, res.body['id']);
  });

  it('password.changed in Settings, by the signed-in person; unrecorded, the password stays', async () => {
    const u = await world.user({ tag: 'pw' });
    const fields = { current_password: PASSWORD, new_password: 'a brand new passphrase' };
    const hash = async () => (await userRow(u.id))?.password_hash;
    const change = (f: Facts) => postFrom(u.browser, '/settings/security', '/settings/security/password', fields, f);
    await unrecordedChangeFails(() => change(factsOf()), hash);
    const f = factsOf();
    const before = await hash();
    assert.equal((await change(f)).status, 200);
    assert.notEqual(await hash(), before);
    const changed = await recordOf(f, 'password.changed');
    assert.deepEqual(changed.actor, byUser(u));
    assert.equal(changed.accountId, u.id);
    assert.deepEqual(changed.target, accountTarget(u.id));
  });

  it('password.reset through the emailed link, by the account (nobody signed in); unrecorded, unchanged', async () => {
    const u = await world.user({ tag: 'reset' });
    const resetLink = async () => {
      clock += HOUR; // one link request per account and hour is not this test's subject
      const from = mail.mark();
      await postFrom(new Browser(world.url), '/password/forgot', '/password/forgot', { email: u.email }, factsOf());
      return linkIn(await mail.one(u.email, 'Reset your Latchkey password', from), '/password/reset');
    };
    const reset = async (link: string, f: Facts) => {
      const browser = new Browser(world.url);
      const page = await (await browser.get(link)).text();
      const fields = { token: tokenOf(link), new_password: 'reset to this passphrase' };
      return postFrom(browser, link, formAction(page, '/password/reset'), fields, f);
    };
    const hash = async () => (await userRow(u.id))?.password_hash;
    const first = await resetLink();
    await unrecordedChangeFails(() => reset(first, factsOf()), hash);
    const f = factsOf();
    const before = await hash();
    assert.equal((await reset(await resetLink(), f)).status, 200);
    assert.notEqual(await hash(), before);
    const recorded = await recordOf(f, 'password.reset');
    assert.deepEqual(recorded.actor, byUser(u));
    assert.deepEqual(recorded.target, accountTarget(u.id));
  });

  it('email.changed with the old and new address; unrecorded, the address stays (the link still works)', async () => {
    const u = await world.user({ tag: 'mover' });
    const next = uniqueEmail('moved');
    const from = mail.mark();
    const asked = await postFrom(u.browser, '/settings/account', '/settings/account/email', { email: next }, factsOf());
    assert.equal(asked.status, 200);
    const link = linkIn(
      await mail.one(next, 'Confirm your new email address', from),
      '/settings/account/email/confirm',
    );
    const confirm = (f: Facts) =>
      postFrom(u.browser, link, '/settings/account/email/confirm', { token: tokenOf(link) }, f);
    const email = async () => (await userRow(u.id))?.email;
    await unrecordedChangeFails(() => confirm(factsOf()), email);
    const f = factsOf();
    assert.equal((await confirm(f)).status, 303);
    const changed = await recordOf(f, 'email.changed');
    assert.deepEqual(changed.actor, byUser(u));
    assert.deepEqual(changed.target, accountTarget(u.id));
    assert.deepEqual(changed.data, { old_email: u.email, new_email: next });
  });

  it('passkey.added and passkey.removed, with the passkey as target; unrecorded, neither happens', async () => {
    const u = await world.user({ tag: 'pk' });
    const authenticator = new SoftAuthenticator(world.url);
    const add = async (f: Facts) => {
      const csrf = csrfFrom(await (await u.browser.get('/settings/security')).text());
      const opts = await u.browser.request('/settings/security/passkeys/options', {
        method: 'POST',
        headers: { 'X-CSRF-Token': csrf },
      });
      const response = JSON.stringify(authenticator.create(await opts.json()));
      return postFrom(u.browser, '/settings/security', '/settings/security/passkeys', { name: 'Laptop', response }, f);
    };
    const passkeys = () => world.server.db.selectFrom('passkeys').select('id').where('user_id', '=', u.id).execute();
    await unrecordedChangeFails(() => add(factsOf()), passkeys);
    const f = factsOf();
    assert.equal((await add(f)).status, 303);
    const [row] = await passkeys();
    const added = await recordOf(f, 'passkey.added');
    assert.deepEqual(added.actor, byUser(u));
    assert.equal(added.accountId, u.id);
    assert.deepEqual(added.target, { type: 'passkey', id: row!.id });
    assert.equal(added.data['name'], 'Laptop');

    const remove = (f: Facts) =>
      postFrom(u.browser, '/settings/security', `/settings/security/passkeys/${row!.id}/remove`, {}, f);
    await unrecordedChangeFails(() => remove(factsOf()), passkeys);
    const g = factsOf();
    assert.equal((await remove(g)).status, 303);
    const removed = await recordOf(g, 'passkey.removed');
    assert.deepEqual(removed.target, { type: 'passkey', id: row!.id });
    assert.deepEqual(removed.data, { name: 'Laptop' });
  });

  it('two_factor.enabled and two_factor.disabled; unrecorded, the second factor stays as it was', async () => {
    const u = await world.user({ tag: 'tf', twoFactor: true });
    const [enabled] = await world.server.built.services.auditLog.list(
      { accountId: u.id, types: ['two_factor.enabled'] },
      { limit: 5 },
    );
    assert.ok(enabled, 'turning it on (through the settings pages) was recorded');
    assert.deepEqual(enabled.actor, byUser(u));
    assert.deepEqual(enabled.target, accountTarget(u.id));

    const secret = async () => (await userRow(u.id))?.totp_secret_enc ?? null;
    const disable = (f: Facts) => {
      clock += 30_000; // a code of a later step (each is accepted once)
      return postFrom(
        u.browser,
        '/settings/security',
        '/settings/security/2fa/disable',
        { password: PASSWORD, code: u.totp() },
        f,
      );
    };
    await unrecordedChangeFails(() => disable(factsOf()), secret);
    const f = factsOf();
    assert.equal((await disable(f)).status, 200);
    assert.equal(await secret(), null);
    const disabled = await recordOf(f, 'two_factor.disabled');
    assert.deepEqual(disabled.actor, byUser(u));
    assert.deepEqual(disabled.target, accountTarget(u.id));
  });

  it('two_factor.enabled unrecorded: the second factor is not turned on', async () => {
    const u = await world.user({ tag: 'tf-fail' });
    const begun = await postFrom(u.browser, '/settings/security', '/settings/security/2fa/begin', {}, factsOf());
    assert.equal(begun.status, 200);
    const { TOTP, Secret } = await import('otpauth');
    const secretText = /id="totp-secret">([A-Z2-7]+)</.exec(await begun.text())![1]!;
    const code = new TOTP({ secret: Secret.fromBase32(secretText), digits: 6, period: 30 }).generate({
      timestamp: clock,
    });
    const on = async () => (await userRow(u.id))?.totp_secret_enc ?? null;
    await unrecordedChangeFails(
      () => postFrom(u.browser, '/settings/security', '/settings/security/2fa/confirm', { code }, factsOf()),
      on,
    );
  });

  it('account.deleted by the account itself: the row goes, the record stays; unrecorded, nothing goes', async () => {
    const u = await world.user({ tag: 'leaver' });
    const remove = (f: Facts) =>
      postFrom(u.browser, '/settings/account/delete', '/settings/account/delete', { confirm_email: u.email }, f);
    await unrecordedChangeFails(
      () => remove(factsOf()),
      async () => (await userRow(u.id))?.id,
    );
    const f = factsOf();
    assert.equal((await remove(f)).status, 303);
    assert.equal(await userRow(u.id), undefined);
    const deleted = await recordOf(f, 'account.deleted');
    assert.deepEqual(deleted.actor, byUser(u));
    assert.equal(deleted.accountId, u.id);
    assert.deepEqual(deleted.target, accountTarget(u.id));
    assert.deepEqual(deleted.data, { email: u.email });
  });
});
