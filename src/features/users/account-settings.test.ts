import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import * as OTPAuth from 'otpauth';
import { isPostgres } from '../../db/client.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, csrfFrom } from '../../../test/support/http.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { SoftAuthenticator } from '../../../test/support/soft-authenticator.ts';
import { PASSWORD, request, uniqueEmail, worldOn, type TestUser, type World } from '../../../test/support/world.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// Settings → Account over real HTTP, with mail through the real outbox to a real SMTP server in
// this process: the name, a change of email address proven by a link to the new address, the
// data export (with no secret in it) and deleting the account (in one transaction).

const HOUR = 3_600_000;
const MINUTE = 60_000;

describe('Settings → Account', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;
  let clock = Date.now();

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      now: () => clock,
      // Verification gates OAuth sign-in; this suite is about the account settings, not that gate.
      env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey <mailer@example.com>', REQUIRE_EMAIL_VERIFICATION: 'false' },
      emailPollMs: HOUR,
      webhookPollMs: HOUR,
    });
    world = worldOn(server);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  /** Posts a form of `page` (its CSRF token) to `path`. */
  async function postFrom(browser: Browser, page: string, path: string, fields: Record<string, string> = {}) {
    const html = await (await browser.get(page)).text();
    return browser.postForm(path, { _csrf: csrfFrom(html), ...fields });
  }

  /** Sends what is queued; every mail to `to` that arrived since `from`. */
  async function mailsTo(to: string, from: number): Promise<ReceivedMail[]> {
    // A tick sends one batch: a few, so a queue left by an earlier test is emptied too.
    for (let i = 0; i < 3; i++) await server.built.services.mailWorker.tick();
    return smtp.received.slice(from).filter((m) => m.envelope.to.includes(to));
  }

  /** The one mail to `to` with this subject since `from`. */
  async function mailTo(to: string, subject: string, from: number): Promise<ReceivedMail> {
    const found = (await mailsTo(to, from)).filter((m) => m.parsed.subject === subject);
    assert.equal(found.length, 1, `one "${subject}" to ${to}; got ${smtp.received.map((m) => m.parsed.subject)}`);
    return found[0]!;
  }

  const linkIn = (mail: ReceivedMail) => {
    const m = /https?:\/\/\S+\/settings\/account\/email\/confirm\?token=[0-9A-Za-z]+/.exec(mail.parsed.text ?? '');
    assert.ok(m, 'the mail carries the confirmation link');
    return new URL(m[0]);
  };

  const emailOf = async (id: string) => (await server.built.services.accounts.findById(id))?.email;

  /** A second browser signed in to the same account. */
  async function signIn(email: string, password = PASSWORD): Promise<Browser> {
    const browser = new Browser(server.url);
    const res = await postFrom(browser, '/login', '/login', { email, password });
    assert.equal(res.status, 303);
    return browser;
  }

  /** Asks for the change in a fresh session; answers the page. */
  async function askForChange(u: TestUser, email: string) {
    clock += 1000; // one request a second per account
    const res = await postFrom(u.browser, '/settings/account', '/settings/account/email', { email });
    return { status: res.status, html: await res.text() };
  }

  /** TOTP turned on through the settings pages, as a person does. */
  async function enrolTwoFactor(u: TestUser) {
    const begun = await postFrom(u.browser, '/settings/security', '/settings/security/2fa/begin');
    const totpSecret = /id="totp-secret">([A-Z2-7]+)</.exec(await begun.text())![1]!;
    const totp = (at: number) =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totpSecret), digits: 6, period: 30 }).generate({
        timestamp: at,
      });
    const confirmed = await postFrom(u.browser, '/settings/security', '/settings/security/2fa/confirm', {
      code: totp(clock),
    });
    // Confirmed, the codes are shown after a redirect (reloadable until saved).
    const shown = await (await u.browser.follow(confirmed)).res.text();
    const recoveryCodes = [...shown.matchAll(/<li><code>([A-Z0-9-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(recoveryCodes.length, 10);
    return { ...u, totpSecret, recoveryCodes, totp };
  }

  const eventsOfType = async (type: string) =>
    server.db.selectFrom('webhook_events').selectAll().where('type', '=', type).execute();

  describe('name', () => {
    it('is saved from the form (trimmed; empty clears it), refused over 100 characters, and needs CSRF', async () => {
      const u = await world.user({ tag: 'name' });
      const saved = await postFrom(u.browser, '/settings/account', '/settings/account/name', { name: '  Ada L.  ' });
      assert.equal(saved.status, 303);
      assert.equal(saved.headers.get('location'), '/settings/account?done=name');
      const page = await (await u.browser.get('/settings/account?done=name')).text();
      assert.match(page, /Name saved\./);
      assert.match(page, /value="Ada L\."/);
      assert.equal((await server.built.services.accounts.findById(u.id))?.name, 'Ada L.');

      const long = await postFrom(u.browser, '/settings/account', '/settings/account/name', { name: 'x'.repeat(101) });
      assert.equal(long.status, 400);
      assert.match(await long.text(), /Name must be at most 100 characters/);
      assert.equal((await server.built.services.accounts.findById(u.id))?.name, 'Ada L.');

      const forged = await u.browser.postForm('/settings/account/name', { name: 'Mallory' });
      assert.equal(forged.status, 403);
      assert.equal((await server.built.services.accounts.findById(u.id))?.name, 'Ada L.');

      const cleared = await postFrom(u.browser, '/settings/account', '/settings/account/name', { name: '   ' });
      assert.equal(cleared.status, 303);
      assert.equal((await server.built.services.accounts.findById(u.id))?.name, null);
    });

    it('sends a browser that is not signed in to sign in, and lists Account in the settings navigation', async () => {
      const anonymous = await new Browser(server.url).get('/settings/account');
      assert.equal(anonymous.status, 303);
      assert.equal(anonymous.headers.get('location'), '/login?return_to=%2Fsettings%2Faccount');
      const u = await world.user();
      const page = await (await u.browser.get('/settings/sessions')).text();
      assert.match(page, /<a href="\/settings\/account">Account<\/a>/);
    });
  });

  describe('changing the email address', () => {
    it('mails a link to the new address; the address changes only when the link is used, and is verified', async () => {
      const u = await world.user({ tag: 'mover' });
      const other = await signIn(u.email);
      const next = uniqueEmail('moved');
      const from = smtp.received.length;
      // Typed as people type: spaces and capitals.
      const asked = await askForChange(u, `  ${next.toUpperCase()} `);
      assert.equal(asked.status, 200);
      assert.match(asked.html, new RegExp(`We sent a link to <strong class="break">${next}</strong>`));
      assert.equal(await emailOf(u.id), u.email, 'nothing changes before the link is used');

      const mail = await mailTo(next, 'Confirm your new email address', from);
      const link = linkIn(mail);
      assert.equal(link.origin + link.pathname, `${server.config.ISSUER}/settings/account/email/confirm`);
      assert.equal((await mailsTo(u.email, from)).length, 0, 'the old address hears nothing yet');

      // Opening the link (a mail scanner, a preview) only shows a button.
      for (let i = 0; i < 2; i++) {
        const shown = await u.browser.get(link.pathname + link.search);
        assert.equal(shown.status, 200);
        assert.match(await shown.text(), /Use this address/);
      }
      assert.equal(await emailOf(u.id), u.email);

      const used = await postFrom(u.browser, link.pathname + link.search, '/settings/account/email/confirm', {
        token: link.searchParams.get('token')!,
      });
      assert.equal(used.status, 303);
      assert.equal(used.headers.get('location'), '/settings/account?done=email-changed');
      const account = await server.built.services.accounts.findById(u.id);
      assert.equal(account?.email, next);
      assert.equal(account?.emailVerified, true);

      // The old address is told; the other session is signed out, this one stays.
      const notice = await mailTo(u.email, 'Your email address was changed', from);
      assert.match(notice.parsed.text ?? '', new RegExp(`now signs in with ${next}`));
      assert.equal((await other.get('/settings/account')).status, 303);
      assert.equal((await u.browser.get('/settings/account')).status, 200);
      // Signing in: the new address works, the old one does not.
      assert.ok(await server.built.services.accounts.authenticate(next, PASSWORD));
      assert.equal(await server.built.services.accounts.authenticate(u.email, PASSWORD), null);
      // The event for administrators' endpoints, with the new address.
      const events = (await eventsOfType('user.email_changed')).filter((e) => e.body.includes(u.id));
      assert.equal(events.length, 1);
      assert.equal(events[0]!.user_id, null, 'sent to administrators');
      assert.deepEqual(JSON.parse(events[0]!.body).data, { id: u.id, email: next });

      // The link worked once.
      const again = await postFrom(u.browser, '/settings/account', '/settings/account/email/confirm', {
        token: link.searchParams.get('token')!,
      });
      assert.equal(again.status, 400);
      assert.match(await again.text(), /This link cannot be used/);
    });

    it('needs a fresh authentication: a stale session is sent to confirm it is you, nothing mailed', async () => {
      const u = await world.user({ tag: 'stale' });
      clock += 11 * MINUTE; // older than FRESH_AUTH_MAX_AGE
      const from = smtp.received.length;
      const next = uniqueEmail('stale-target');
      const res = await postFrom(u.browser, '/settings/account', '/settings/account/email', { email: next });
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location')!, /^\/settings\/confirm\?return_to=%2Fsettings%2Faccount$/);
      assert.equal((await mailsTo(next, from)).length, 0);
      // Confirmed with the password, the same form then works.
      const confirmed = await postFrom(u.browser, res.headers.get('location')!, res.headers.get('location')!, {
        password: PASSWORD,
      });
      assert.equal(confirmed.status, 303);
      assert.equal((await askForChange(u, next)).status, 200);
      await mailTo(next, 'Confirm your new email address', from);
    });

    it('answers the same for an address another account has; that mailbox is told, with no link', async () => {
      const u = await world.user({ tag: 'curious' });
      const holder = await world.user({ tag: 'holder' });
      const free = uniqueEmail('free');
      const from = smtp.received.length;
      const taken = await askForChange(u, holder.email);
      const open = await askForChange(u, free);
      assert.equal(taken.status, open.status);
      const strip = (html: string, address: string) =>
        html.replaceAll(address, 'ADDRESS').replace(/name="_csrf" value="[^"]+"/g, '');
      assert.equal(strip(taken.html, holder.email), strip(open.html, free), 'the same page either way');

      const notice = await mailTo(holder.email, 'This address already has a Latchkey account', from);
      assert.doesNotMatch(notice.raw, /token=/, 'no link to use');
      assert.equal(await emailOf(holder.id), holder.email);
      assert.equal(await emailOf(u.id), u.email);
      // Its own address, or nonsense, is refused on the form (no mail).
      const same = await askForChange(u, u.email.toUpperCase());
      assert.equal(same.status, 400);
      assert.match(same.html, /That is already your email address/);
      const junk = await askForChange(u, 'not an address');
      assert.equal(junk.status, 400);
      assert.match(junk.html, /Enter a valid email address/);
    });

    it('refuses cleanly an address taken after the link was sent (no 500); a race has one winner', async () => {
      const u = await world.user({ tag: 'late' });
      const target = uniqueEmail('contested');
      const from = smtp.received.length;
      await askForChange(u, target);
      const link = linkIn(await mailTo(target, 'Confirm your new email address', from));
      await server.built.services.accounts.signUp({ email: target, password: 'someone else entirely' }, BY_SYSTEM);
      const refused = await postFrom(u.browser, link.pathname + link.search, '/settings/account/email/confirm', {
        token: link.searchParams.get('token')!,
      });
      assert.equal(refused.status, 409);
      assert.match(await refused.text(), /That address is taken/);
      assert.equal(await emailOf(u.id), u.email);

      // Two accounts confirm the same free address at once: one moves, the other is refused, no 500.
      const a = await world.user({ tag: 'race-a' });
      const b = await world.user({ tag: 'race-b' });
      const prize = uniqueEmail('prize');
      const start = smtp.received.length;
      await askForChange(a, prize);
      await askForChange(b, prize);
      const sent = (await mailsTo(prize, start)).map(linkIn);
      assert.equal(sent.length, 2);
      // Each account's own link (the mails may arrive in either order).
      const ownerOf = async (link: URL) =>
        (await server.built.services.emailLinks.peek('change_email', link.searchParams.get('token')))?.userId;
      const links = (await ownerOf(sent[0]!)) === a.id ? sent : [sent[1]!, sent[0]!];
      const pages = await Promise.all(
        [a, b].map(async (who, i) => (await who.browser.get(links[i]!.pathname + links[i]!.search)).text()),
      );
      const answers = await Promise.all(
        [a, b].map((who, i) =>
          who.browser.postForm('/settings/account/email/confirm', {
            _csrf: csrfFrom(pages[i]!),
            token: links[i]!.searchParams.get('token')!,
          }),
        ),
      );
      assert.deepEqual(answers.map((r) => r.status).sort(), [303, 409]);
      assert.equal([await emailOf(a.id), await emailOf(b.id)].filter((e) => e === prize).length, 1);
    });

    it("another account's link is refused (its owner can still use it); signed out, it leads to sign-in", async () => {
      const owner = await world.user({ tag: 'link-owner' });
      const intruder = await world.user({ tag: 'intruder' });
      const next = uniqueEmail('owners-new');
      const from = smtp.received.length;
      await askForChange(owner, next);
      const link = linkIn(await mailTo(next, 'Confirm your new email address', from));
      const path = link.pathname + link.search;

      assert.equal((await intruder.browser.get(path)).status, 400);
      const page = await (await intruder.browser.get('/settings/account')).text();
      const forced = await intruder.browser.postForm('/settings/account/email/confirm', {
        _csrf: csrfFrom(page),
        token: link.searchParams.get('token')!,
      });
      assert.equal(forced.status, 400);
      assert.equal(await emailOf(intruder.id), intruder.email);

      const anonymous = await new Browser(server.url).get(path);
      assert.equal(anonymous.status, 303);
      assert.equal(anonymous.headers.get('location'), `/login?return_to=${encodeURIComponent(path)}`);

      const noCsrf = await owner.browser.postForm('/settings/account/email/confirm', {
        token: link.searchParams.get('token')!,
      });
      assert.equal(noCsrf.status, 403);
      const used = await postFrom(owner.browser, path, '/settings/account/email/confirm', {
        token: link.searchParams.get('token')!,
      });
      assert.equal(used.status, 303);
      assert.equal(await emailOf(owner.id), next);
    });

    it('limits requests to ten an hour per account (each one mails someone), then 429 with Retry-After', async () => {
      // A minute or more left in this hour's window: all eleven requests fall in it.
      const left = HOUR - (clock % HOUR);
      if (left < MINUTE) clock += left;
      const u = await world.user({ tag: 'spammer' });
      for (let i = 0; i < 10; i++) assert.equal((await askForChange(u, uniqueEmail('spam'))).status, 200);
      const from = smtp.received.length;
      const target = uniqueEmail('spam-11');
      const page = await (await u.browser.get('/settings/account')).text();
      clock += 1000;
      const refused = await u.browser.postForm('/settings/account/email', { _csrf: csrfFrom(page), email: target });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.match(await refused.text(), /Too many address changes/);
      assert.equal((await mailsTo(target, from)).length, 0);
    });

    it('a newer request replaces the older link; a reset link sent to the old address stops working', async () => {
      const u = await world.user({ tag: 'twice' });
      const first = uniqueEmail('first');
      const second = uniqueEmail('second');
      const from = smtp.received.length;
      await askForChange(u, first);
      await askForChange(u, second);
      const old = linkIn(await mailTo(first, 'Confirm your new email address', from));
      const newer = linkIn(await mailTo(second, 'Confirm your new email address', from));
      assert.equal((await u.browser.get(old.pathname + old.search)).status, 400);

      const links = server.built.services.emailLinks;
      const resetToken = await links.issue(u.id, 'reset_password', u.email);
      await postFrom(u.browser, newer.pathname + newer.search, '/settings/account/email/confirm', {
        token: newer.searchParams.get('token')!,
      });
      assert.equal(await emailOf(u.id), second);
      assert.equal(await links.peek('reset_password', resetToken), null);
    });
  });

  describe('export', () => {
    it('downloads the account data as JSON, after a fresh authentication, with no secret or hash in it', async () => {
      const plain = await world.user({ tag: 'exporter' });
      // Authorized before 2FA is on (the test's authorize walk signs in with a password only).
      const granted = await world.oauthToken(plain, ['read:users']);
      const u = await enrolTwoFactor(plain);
      await postFrom(u.browser, '/settings/account', '/settings/account/name', { name: 'Export Person' });
      const key = await world.apiKey(u, ['read:users'], { name: 'CI key' });
      const app = await world.app(u, { scopes: ['read:users'], name: 'My web app' });
      const hook = await u.browser.postJson('/v2/webhooks', {
        url: 'https://example.com/hook',
        events: ['api_key.created'],
      });
      assert.equal(hook.status, 201);
      const webhook = (await hook.json()) as { id: string; secret: string };
      // A passkey, added as passkeys.js adds one: its credential and public key must stay home.
      const authenticator = new SoftAuthenticator(world.url);
      const securityCsrf = csrfFrom(await (await u.browser.get('/settings/security')).text());
      const passkeyOptions = await u.browser.request('/settings/security/passkeys/options', {
        method: 'POST',
        headers: { 'X-CSRF-Token': securityCsrf },
      });
      const credential = authenticator.create(await passkeyOptions.json());
      const added = await u.browser.postForm('/settings/security/passkeys', {
        _csrf: securityCsrf,
        name: 'Phone',
        response: JSON.stringify(credential),
      });
      assert.equal(added.status, 303);
      const secondBrowser = await signIn(u.email);
      assert.ok(secondBrowser);

      clock += 11 * MINUTE;
      const stale = await u.browser.get('/settings/account/export');
      assert.equal(stale.status, 303);
      assert.equal(stale.headers.get('location'), '/settings/confirm?return_to=%2Fsettings%2Faccount%2Fexport');
      const confirm = await postFrom(u.browser, stale.headers.get('location')!, stale.headers.get('location')!, {
        code: u.totp(clock + 30_000),
      });
      assert.equal(confirm.status, 303);
      assert.equal(confirm.headers.get('location'), '/settings/account/export');

      const res = await u.browser.get('/settings/account/export');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^application\/json/);
      const date = new Date(clock).toISOString().slice(0, 10);
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="latchkey-account-${date}.json"`);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const text = await res.text();
      const data = JSON.parse(text);
      assert.equal(data.profile.id, u.id);
      assert.equal(data.profile.email, u.email);
      assert.equal(data.profile.name, 'Export Person');
      assert.deepEqual(data.two_factor, { enabled: true, recovery_codes_left: 10 });
      assert.deepEqual(
        data.passkeys.map((p: { name: string; created_at: string }) => [p.name, p.created_at]),
        [['Phone', new Date(clock - 11 * MINUTE).toISOString()]],
      );
      assert.equal(data.sessions.length, 2);
      assert.equal(data.sessions.filter((s: { this_device: boolean }) => s.this_device).length, 1);
      assert.deepEqual(
        data.api_keys.map((k: { name: string; prefix: string }) => [k.name, k.prefix]),
        [['CI key', key.prefix]],
      );
      assert.deepEqual(
        data.applications.map((a: { client_id: string }) => a.client_id),
        [app.client_id],
      );
      assert.deepEqual(
        data.webhooks.map((w: { id: string; url: string }) => [w.id, w.url]),
        [[webhook.id, 'https://example.com/hook']],
      );
      assert.deepEqual(
        data.authorized_applications.map((c: { client_id: string }) => c.client_id),
        [granted.app.client_id],
      );

      // Every secret and every hash the account has, readable or sealed, is absent.
      // Every hash and sealed value in the database (a superset of the account's own).
      const stored = (await dumpDatabase(server.db)).filter(
        (v) => /hash|_enc$|secret/.test(v.column) && v.value.length >= 16,
      );
      const secrets = [
        ...stored.map((v) => v.value),
        key.key,
        app.client_secret!,
        webhook.secret,
        u.totpSecret,
        ...u.recoveryCodes,
        granted.access_token,
        granted.refresh_token,
      ];
      for (const secret of secrets)
        assert.ok(!text.includes(secret), `the export holds a secret: ${secret.slice(0, 12)}…`);
      const passwordHash = stored.find((v) => v.table === 'users' && v.column === 'password_hash');
      assert.ok(passwordHash, 'the scan covers password hashes');
      const passkey = (await dumpDatabase(server.db)).filter((v) => v.table === 'passkeys');
      for (const column of ['credential_id', 'public_key']) {
        const value = passkey.find((v) => v.column === column)?.value;
        assert.ok(value && value.length >= 16, `the passkey has a ${column}`);
        assert.ok(!text.includes(value), `the export holds the passkey's ${column}`);
      }
      for (const column of ['secret_hash', 'secret_enc', 'totp_secret_enc', 'code_hash', 'id_hash'])
        assert.ok(
          stored.some((v) => v.column === column),
          `the scan covers ${column}`,
        );
    });
  });

  describe('deleting the account', () => {
    /** An account with everything: a key, an app, a grant to another app (tokens), a webhook, two sessions. */
    async function populated(tag: string) {
      const u = await world.user({ tag });
      const key = await world.apiKey(u, ['read:users']);
      const app = await world.app(u, { scopes: ['read:users'] });
      const hook = await u.browser.postJson('/v2/webhooks', { url: 'https://example.com/h', events: ['*'] });
      assert.equal(hook.status, 201);
      const granted = await world.oauthToken(u, ['read:users']);
      const other = await signIn(u.email);
      return { u, key, app, granted, other };
    }

    const deleteAs = (u: TestUser, typed: string) =>
      postFrom(u.browser, '/settings/account', '/settings/account/delete', { confirm_email: typed });

    const keyWorks = async (key: string) => (await request(server, 'GET', '/v2/users/me', { bearer: key })).status;

    it('needs a fresh authentication, the email typed again, and the CSRF token; another account cannot', async () => {
      const { u, key } = await populated('careful');
      const bob = await world.user({ tag: 'bob' });

      const wrong = await deleteAs(u, 'someone@example.com');
      assert.equal(wrong.status, 400);
      assert.match(await wrong.text(), /Type your email address exactly as shown/);

      const page = await (await u.browser.get('/settings/account/delete')).text();
      assert.match(page, /href="\/settings\/account\/export"/, 'the export is offered first');
      const noCsrf = await u.browser.postForm('/settings/account/delete', { confirm_email: u.email });
      assert.equal(noCsrf.status, 403);

      // Bob's session, typing Alice's address (or naming her id), deletes nobody.
      const asBob = await postFrom(bob.browser, '/settings/account/delete', '/settings/account/delete', {
        confirm_email: u.email,
        user_id: u.id,
      });
      assert.equal(asBob.status, 400);
      assert.ok(await server.built.services.accounts.findById(bob.id));

      clock += 11 * MINUTE;
      const stale = await deleteAs(u, u.email);
      assert.equal(stale.status, 303);
      assert.equal(stale.headers.get('location'), '/settings/confirm?return_to=%2Fsettings%2Faccount%2Fdelete');
      assert.ok(await server.built.services.accounts.findById(u.id), 'nothing deleted');
      assert.equal(await keyWorks(key.key), 200);
    });

    it('removes everything, signs the browser out, says so; keys, tokens and sessions fail at once', async () => {
      const { u, key, app, granted, other } = await populated('leaver');
      const res = await deleteAs(u, `  ${u.email.toUpperCase()} `);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/account-deleted');
      const landing = await u.browser.get('/account-deleted');
      assert.equal(landing.status, 200);
      assert.match(await landing.text(), /Your account was deleted/);
      assert.equal((await u.browser.get('/settings/account')).status, 303, 'this browser is signed out');
      assert.equal((await other.get('/dashboard')).status, 302, 'every other session ends');
      assert.equal((await new Browser(server.url).get('/account-deleted')).status, 302, 'only for that browser');

      assert.equal(await server.built.services.accounts.findById(u.id), null);
      assert.equal(await keyWorks(key.key), 401);
      assert.equal(await keyWorks(granted.access_token), 401);
      const refreshed = await request(server, 'POST', '/oauth/token', {
        body: {
          grant_type: 'refresh_token',
          refresh_token: granted.refresh_token,
          client_id: granted.app.client_id,
          client_secret: granted.app.client_secret,
        },
      });
      assert.equal(refreshed.status, 400);
      assert.equal(refreshed.body['error'], 'invalid_grant');
      const client = await request(server, 'POST', '/oauth/token', {
        body: { grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret },
      });
      assert.equal(client.status, 401, 'its own applications are gone');
      const left = await server.db
        .selectFrom('oidc_payloads')
        .select('type')
        .where((eb) => eb.or([eb('account_id', '=', u.id), eb('client_id', '=', app.client_id)]))
        .execute();
      assert.deepEqual(left, [], 'no provider session or token of the account is left');
      const hooks = await server.db.selectFrom('webhook_endpoints').select('id').where('user_id', '=', u.id).execute();
      assert.deepEqual(hooks, []);

      const events = (await eventsOfType('user.deleted')).filter((e) => e.body.includes(u.id));
      assert.equal(events.length, 1);
      assert.equal(events[0]!.user_id, null, 'sent to administrators');
      assert.deepEqual(JSON.parse(events[0]!.body).data, { id: u.id, email: u.email });
    });

    it('is one transaction: when its last write fails, nothing of the account is gone', async () => {
      const { u, key, granted, other } = await populated('atomic');
      // The event is written last, after every delete: make that write fail.
      const pg = isPostgres(server.db);
      if (pg) {
        await sql`CREATE OR REPLACE FUNCTION refuse_user_deleted() RETURNS trigger AS $$
          BEGIN IF NEW.type = 'user.deleted' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END
          $$ LANGUAGE plpgsql`.execute(server.db);
        await sql`CREATE TRIGGER refuse_user_deleted BEFORE INSERT ON webhook_events
          FOR EACH ROW EXECUTE FUNCTION refuse_user_deleted()`.execute(server.db);
      } else {
        await sql`CREATE TRIGGER refuse_user_deleted BEFORE INSERT ON webhook_events
          WHEN NEW.type = 'user.deleted' BEGIN SELECT RAISE(ABORT, 'refused for the test'); END`.execute(server.db);
      }
      try {
        const failed = await deleteAs(u, u.email);
        assert.equal(failed.status, 500);
      } finally {
        await sql`DROP TRIGGER refuse_user_deleted${pg ? sql` ON webhook_events` : sql``}`.execute(server.db);
      }
      assert.ok(await server.built.services.accounts.findById(u.id));
      assert.equal(await keyWorks(key.key), 200);
      assert.equal(await keyWorks(granted.access_token), 200);
      assert.equal((await other.get('/dashboard')).status, 200);
      assert.equal((await u.browser.get('/settings/account')).status, 200);
      const hooks = await server.db.selectFrom('webhook_endpoints').select('id').where('user_id', '=', u.id).execute();
      assert.equal(hooks.length, 1);

      // With the failure gone, the same request deletes it.
      assert.equal((await deleteAs(u, u.email)).status, 303);
      assert.equal(await server.built.services.accounts.findById(u.id), null);
    });

    it("an administrator's deletion through the API takes the same path (user.deleted, same cleanup)", async () => {
      const admin = await world.user({ admin: true, tag: 'admin' });
      const { u, key } = await populated('removed');
      const adminKey = await world.apiKey(admin, ['admin:all']);
      const res = await request(server, 'DELETE', `/v2/users/${u.id}`, { bearer: adminKey.key });
      assert.equal(res.status, 204);
      assert.equal(await keyWorks(key.key), 401);
      assert.equal((await eventsOfType('user.deleted')).filter((e) => e.body.includes(u.id)).length, 1);
      const sessions = await server.db
        .selectFrom('oidc_payloads')
        .select('type')
        .where('account_id', '=', u.id)
        .execute();
      assert.deepEqual(sessions, []);
    });
  });
});
