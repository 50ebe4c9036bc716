import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { startSmtpServer, type TestSmtpServer } from '../test/support/smtp.ts';
import { linkIn, mailboxOf } from '../test/support/mailbox.ts';
import { authorizeUrl } from '../test/support/http.ts';
import { REDIRECT_URI, worldOn } from '../test/support/world.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { assertAccessible } from './axe.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// Sign-up → the verification mail (read from a real SMTP server) → verify → sign in; and forgot →
// reset → sign in with the new password, as a person does it in Chromium. Every new page is
// screenshotted at desktop and phone width and checked with axe-core.

const PASSWORD = 'journey passphrase';
const NEW_PASSWORD = 'a brand new journey passphrase';

describe('Email verification and password reset in Chromium', { timeout: 120_000 }, () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let chromium: Chromium;
  let mail: ReturnType<typeof mailboxOf>;

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({ env: { EMAIL_URL: smtp.url }, emailPollMs: 3_600_000 });
    mail = mailboxOf(server, smtp);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
    await smtp?.close();
  });

  /** Shots at both widths and an axe-core check of the page as it is now. */
  async function review(page: Page, name: string): Promise<void> {
    await screenshotBoth(page, name);
    await assertAccessible(page, name);
  }

  async function signIn(page: Page, email: string, password: string): Promise<void> {
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('signs up, verifies the address from the mail, and signs in', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const email = 'vera.journey@example.com';
      const from = mail.mark();
      await page.goto(`${server.url}/signup`);
      await page.getByLabel('Name').fill('Vera');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
      await review(page, 'signup-check-inbox');

      const link = linkIn(await mail.one(email, 'Confirm your email address for Latchkey', from), '/verify-email');
      await page.goto(`${server.url}${link}`);
      await page.getByRole('heading', { name: 'Confirm your email address' }).waitFor();
      await review(page, 'verify-email');
      await page.getByRole('button', { name: 'Confirm my email address' }).click();
      await page.getByText('Your email address is confirmed.').waitFor();
      await review(page, 'verify-email-done');

      // The link is used: opening it again says so.
      await page.goto(`${server.url}${link}`);
      await page.getByText('This link cannot be used').waitFor();
      await review(page, 'verify-email-expired');

      await page.getByRole('link', { name: 'Sign in' }).click();
      await signIn(page, email, PASSWORD);
      await page.waitForURL(`${server.url}/dashboard`);
      assert.equal(await page.getByText('Resend the link').count(), 0, 'no banner once verified');
      assert.equal((await server.built.services.accounts.findByEmail(email))?.emailVerified, true);
    } finally {
      await context.close();
    }
  });

  it('shows an unverified account the banner on the dashboard, and resends the link', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const email = 'una.journey@example.com';
      await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
      await page.goto(`${server.url}/login`);
      await signIn(page, email, PASSWORD);
      await page.waitForURL(`${server.url}/dashboard`);
      await page.getByText('Confirm your email address').waitFor();
      await review(page, 'dashboard-verify-banner');
      const from = mail.mark();
      await page.getByRole('button', { name: 'Resend the link' }).click();
      await page.getByText('We sent a new link').waitFor();
      await review(page, 'verify-email-sent');
      await mail.one(email, 'Confirm your email address for Latchkey', from);
    } finally {
      await context.close();
    }
  });

  it('asks an unverified account to verify before it signs in to an application', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const app = await worldOn(server).app(undefined, { scopes: ['read:users'] });
      const email = 'otto.journey@example.com';
      await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
      await page.goto(
        authorizeUrl(server.url, {
          clientId: app.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      );
      await review(page, 'oauth-login-forgot-link');
      await signIn(page, email, PASSWORD);
      await page.getByRole('heading', { name: 'Verify your email first' }).waitFor();
      await review(page, 'oauth-verify-first');
    } finally {
      await context.close();
    }
  });

  it('resets a forgotten password from the sign-in page and signs in with the new one', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const email = 'rita.journey@example.com';
      await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
      await page.goto(`${server.url}/login`);
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.waitForURL(`${server.url}/password/forgot`);
      await review(page, 'password-forgot');
      const from = mail.mark();
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Send the link' }).click();
      await page.getByText('If an account exists for').waitFor();
      await review(page, 'password-forgot-sent');

      const link = linkIn(await mail.one(email, 'Reset your Latchkey password', from), '/password/reset');
      await page.goto(`${server.url}${link}`);
      await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      await review(page, 'password-reset');
      // A weak password is refused with the reason; the form stays.
      await page.getByLabel('New password').fill('password123');
      await page.getByRole('button', { name: 'Set the new password' }).click();
      await page.getByRole('alert').waitFor();
      await review(page, 'password-reset-refused');
      await page.getByLabel('New password').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Set the new password' }).click();
      await page.getByText('Password changed.').waitFor();
      await review(page, 'password-reset-done');

      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/login`);
      await signIn(page, email, NEW_PASSWORD);
      await page.waitForURL(`${server.url}/dashboard`);

      await page.goto(`${server.url}${link}`);
      await page.getByText('This link cannot be used').waitFor();
      await review(page, 'password-reset-expired');
    } finally {
      await context.close();
    }
  });
});
