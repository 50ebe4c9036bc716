import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import type { Browser as Chromium } from 'playwright-core';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import fs from 'node:fs';
import { launchChromium, screenshot, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { assertAccessible } from './axe.ts';

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

  it('retries a mistyped first code, then copies, downloads and prints the recovery codes', async () => {
    const context = await chromium.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
    const page = await context.newPage();
    const email = 'tfa.codes@example.com';
    const password = 'journey passphrase';
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, password);
    await page.goto(`${server.url}/settings/security`);
    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    const secret = (await page.locator('#totp-secret').textContent())!.trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });

    // A typo: the same QR code and key stay on screen, and the next code finishes.
    const near = new Set([-30_000, 0, 30_000].map((d) => totp.generate({ timestamp: Date.now() + d })));
    await page.getByLabel('Authentication code').fill(['000000', '111111', '222222'].find((c) => !near.has(c))!);
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByText('That code is not right').waitFor();
    assert.equal((await page.locator('#totp-secret').textContent())!.trim(), secret);
    await page.getByLabel('Authentication code').fill(totp.generate());
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.waitForURL(/\/settings\/security\/2fa\/recovery-codes$/);
    const codes = await page.locator('#recovery-codes code').allTextContents();
    assert.equal(codes.length, 10);
    await assertAccessible(page, 'recovery codes');
    await screenshotBoth(page, 'two-factor-recovery-codes-buttons');

    // Continue waits for "I have saved them".
    const continueButton = page.getByRole('button', { name: 'Continue' });
    assert.equal(await continueButton.isDisabled(), true);

    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${codes.join('\n')}\n`);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download .txt' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'latchkey-recovery-codes.txt');
    const text = fs.readFileSync((await download.path())!, 'utf8');
    assert.deepEqual(
      text.split('\n').filter((line) => /^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/.test(line)),
      codes,
    );

    // Print: the button prints, and on paper only the codes and the warning remain.
    await page.evaluate(() => {
      (window as unknown as { printed: number }).printed = 0;
      window.print = () => {
        (window as unknown as { printed: number }).printed++;
      };
    });
    await page.getByRole('button', { name: 'Print' }).click();
    assert.equal(await page.evaluate(() => (window as unknown as { printed: number }).printed), 1);
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('.topbar').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Copy' }).isVisible(), false);
    assert.equal(await page.locator('#recovery-codes').isVisible(), true);
    await page.emulateMedia({ media: 'screen' });

    await page.getByLabel('I have saved these recovery codes').check();
    assert.equal(await continueButton.isEnabled(), true);
    await continueButton.click();
    await page.waitForURL(/\/settings\/security$/);
    await page.getByText('10 unused recovery codes left').waitFor();
    // Gone once saved: the download is no longer served.
    const gone = await page.request.get(`${server.url}/settings/security/2fa/recovery-codes.txt`);
    assert.equal(gone.status(), 404);
    await context.close();
  });
});
