import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import type { Browser as Chromium } from 'playwright-core';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { launchChromium, screenshot, signInAfterSignUp } from './chromium.ts';

// The security advice, as a person follows it: enable two-factor authentication, sign out, sign in
// with a code from the authenticator app, then with a recovery code.
describe('Two-factor authentication in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;

  before(async () => {
    server = await startTestServer();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
  });

  it('enables 2FA, then signs in with a TOTP code and with a recovery code', async () => {
    const page = await (await chromium.newContext()).newPage();
    const email = 'tfa.journey@example.com';
    const password = 'journey passphrase';
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, password);

    await page.getByRole('link', { name: 'Security' }).first().click();
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await page.getByText('Scan this QR code').waitFor();
    const secret = (await page.locator('#totp-secret').textContent())!.trim();
    await screenshot(page, 'two-factor-enroll');
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.getByLabel('Authentication code').fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('Save these recovery codes now').waitFor();
    const codes = await page.locator('#recovery-codes code').allTextContents();
    assert.equal(codes.length, 10);
    await screenshot(page, 'two-factor-recovery-codes');

    // Sign out, then in: the password is not enough any more.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/login\/2fa/);
    await screenshot(page, 'two-factor-login');
    // The next time step's code: the one used to turn 2FA on cannot be used again.
    await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.getByText(email).first().waitFor();

    // Lost the device: a recovery code signs in, once.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/login\/2fa/);
    await page.getByLabel('Authentication code').fill(codes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.goto(`${server.url}/settings/security`);
    await page.getByText('9 unused recovery codes left').waitFor();
  });
});
