import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { PASSWORD, worldOn, type World } from '../../../test/support/world.ts';

// Security notices go through the real outbox and a real SMTP server in this process: each change
// to an account's security reaches its owner, says what happened and what to do, and carries no secret.

const HOUR = 3_600_000;

describe('security notices by email', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let world: World;

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey <mailer@example.com>' },
      emailPollMs: HOUR,
    });
    world = worldOn(server);
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  /** Sends what is queued; the mail to `to` with this subject that arrived since `from`. */
  async function mailTo(to: string, subject: string, from: number): Promise<ReceivedMail> {
    await server.built.services.mailWorker.tick();
    const found = smtp.received.slice(from).filter((m) => m.envelope.to.includes(to) && m.parsed.subject === subject);
    assert.equal(found.length, 1, `one "${subject}" to ${to}; got ${smtp.received.map((m) => m.parsed.subject)}`);
    return found[0]!;
  }

  it('tells the owner when two-factor authentication is turned on and off', async () => {
    const from = smtp.received.length;
    const u = await world.user({ twoFactor: true });
    const on = await mailTo(u.email, 'Two-factor authentication is on', from);
    assert.match(on.parsed.text ?? '', /authenticator app now protects sign-in/);
    assert.match(on.parsed.text ?? '', new RegExp(`Reset your password: ${server.config.ISSUER}/password/forgot`));
    assert.match(String(on.parsed.html), new RegExp(`href="${server.config.ISSUER}/settings/sessions"`));

    const page = await (await u.browser.get('/settings/security')).text();
    const off = await u.browser.postForm('/settings/security/2fa/disable', {
      _csrf: csrfFrom(page),
      password: PASSWORD,
      code: u.recoveryCodes[0]!,
    });
    assert.equal(off.status, 200);
    await mailTo(u.email, 'Two-factor authentication is off', from);
  });

  it('tells the owner when the password is changed, and not when a change is refused', async () => {
    const u = await world.user();
    const from = smtp.received.length;
    const page = async () => csrfFrom(await (await u.browser.get('/settings/security')).text());
    const wrong = await u.browser.postForm('/settings/security/password', {
      _csrf: await page(),
      current_password: 'not the password',
      new_password: 'a brand new passphrase',
    });
    assert.equal(wrong.status, 400);
    await server.built.services.mailWorker.tick();
    assert.equal(smtp.received.slice(from).filter((m) => m.envelope.to.includes(u.email)).length, 0);

    const changed = await u.browser.postForm('/settings/security/password', {
      _csrf: await page(),
      current_password: PASSWORD,
      new_password: 'a brand new passphrase',
    });
    assert.equal(changed.status, 200);
    const mail = await mailTo(u.email, 'Your password was changed', from);
    assert.doesNotMatch(mail.raw, /a brand new passphrase/);
  });

  it('tells the owner of a new API key by its name and prefix, never the key', async () => {
    const u = await world.user();
    const from = smtp.received.length;
    const made = await world.apiKey(u, ['read:users'], { name: 'Deploy bot' });
    const mail = await mailTo(u.email, 'A new API key was created', from);
    assert.match(mail.parsed.text ?? '', new RegExp(`"Deploy bot" \\(${made.prefix}…\\)`));
    assert.equal(mail.raw.includes(made.key), false, 'the key itself is never mailed');
    assert.equal(mail.raw.includes(made.key.slice(-12)), false);
  });
});
