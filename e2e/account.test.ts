import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startSmtpServer, type TestSmtpServer } from '../test/support/smtp.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth, signInAfterSignUp } from './chromium.ts';

// Settings → Account as a person uses it in Chromium, with mail through a real SMTP server: change
// the name and the email address (the link read from the mail that arrived), download the data,
// then delete the account.
describe('Settings → Account in Chromium', { timeout: 180_000 }, () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let chromium: Chromium;

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({ env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey <mailer@example.com>' } });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
    await smtp?.close();
  });

  /** The link of the first mail to `to` with this subject (waiting for the outbox to send it). */
  async function linkMailedTo(to: string, subject: string): Promise<string> {
    for (let waited = 0; waited < 15_000; waited += 100) {
      const mail = smtp.received.find((m) => m.envelope.to.includes(to) && m.parsed.subject === subject);
      if (mail)
        return /https?:\/\/\S+\/settings\/account\/email\/confirm\?token=[0-9A-Za-z]+/.exec(mail.parsed.text!)![0];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no "${subject}" mail to ${to}`);
  }

  async function check(page: Page, name: string): Promise<void> {
    await screenshotBoth(page, name);
    await assertAccessible(page, name);
  }

  it('changes the name and the email address, downloads the data, then deletes the account', async () => {
    const page = await (await chromium.newContext({ acceptDownloads: true })).newPage();
    const email = 'account.journey@example.com';
    const next = 'account.journey.new@example.com';
    const password = 'journey passphrase for accounts';
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, password);

    // The section is in the settings navigation.
    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.waitForURL(`${server.url}/settings/account`);
    await check(page, 'account-settings');

    await page.locator('#name').fill('Journey Person');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Name saved.').waitFor();
    assert.equal(await page.locator('#name').inputValue(), 'Journey Person');

    // A new address: a link goes to it, and nothing changes until it is used.
    await page.getByLabel('New email address').fill(next.toUpperCase());
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    await page.getByText(`We sent a link to ${next}`).waitFor();
    await check(page, 'account-email-sent');
    const link = await linkMailedTo(next, 'Confirm your new email address');
    await page.goto(link);
    await page.getByRole('heading', { name: 'Confirm your new email address' }).waitFor();
    await check(page, 'account-confirm-email');
    await page.getByRole('button', { name: 'Use this address' }).click();
    await page.waitForURL(`${server.url}/settings/account?done=email-changed`);
    await page.getByText('Your email address is changed').waitFor();
    await page.locator('.who', { hasText: next }).waitFor();
    // The old address was told.
    await waitFor(() =>
      smtp.received.some((m) => m.envelope.to.includes(email) && m.parsed.subject === 'Your email address was changed'),
    );

    // The data, as a file.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download my data' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^latchkey-account-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    assert.equal(exported.profile.email, next);
    assert.equal(exported.profile.name, 'Journey Person');
    assert.equal(exported.profile.email_verified, true);

    // Deleting: the email typed again, wrong first.
    await page.getByRole('link', { name: 'Delete account…' }).click();
    await page.waitForURL(`${server.url}/settings/account/delete`);
    await check(page, 'account-delete');
    await page.getByLabel('Type your email address to confirm').fill(email);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByText('Type your email address exactly as shown').waitFor();
    await assertAccessible(page, 'account-delete (refused)');
    await page.getByLabel('Type your email address to confirm').fill(` ${next.toUpperCase()} `);
    await page.getByRole('button', { name: 'Delete my account' }).click();
    await page.waitForURL(`${server.url}/account-deleted`);
    await page.getByRole('heading', { name: 'Your account was deleted' }).waitFor();
    await check(page, 'account-deleted');

    // Signed out, and the account signs in no more.
    await page.goto(`${server.url}/settings/account`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(next);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Invalid email or password').waitFor();
  });
});

async function waitFor(condition: () => boolean, ms = 15_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 100) {
    if (waited > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
