import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { assertAccessible } from './axe.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';

// Secrets shown once, in real Chromium: the page after "Generate key" shows the key; reloading it
// (which a browser would otherwise offer to re-post) shows that the secret is gone, not a new one.
// Rotating a client secret asks first and offers an overlap. Each new page: both widths, axe-core.

const PASSWORD = 'correct horse battery';
const GONE = 'This secret was shown once and is no longer available';

describe('Secrets shown once in Chromium', { timeout: 180_000 }, () => {
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

  async function signedUp(page: Page, email: string): Promise<void> {
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Name').fill('Sam Secrets');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, PASSWORD);
  }

  it('a new API key is shown once; a reload shows it is gone and makes no other key', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      await signedUp(page, 'sam.keys@example.com');
      await page.goto(`${server.url}/settings/api-keys/new`);
      await page.getByLabel('Name').fill('Reload test');
      await page.getByLabel('Read user information').check();
      await page.getByRole('button', { name: 'Generate key' }).click();
      await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
      const key = await page.getByLabel('API key', { exact: true }).inputValue();
      assert.match(key, /^lk_/);
      const shownAt = page.url();
      assert.ok(!shownAt.includes(key.slice(16)), 'the key is not in the URL');
      await screenshotBoth(page, 'secret-shown-once');
      await assertAccessible(page, 'the new key page');

      const reloaded = await page.reload();
      assert.equal(reloaded?.status(), 410);
      assert.equal(page.url(), shownAt, 'a reload is a GET of the same page, not a re-post');
      await page.getByRole('heading', { name: GONE }).waitFor();
      assert.ok(!(await page.content()).includes(key), 'the key is not shown again');
      assert.equal(await page.locator('input[value^="lk_"]').count(), 0, 'no other key either');
      await screenshotBoth(page, 'secret-gone');
      await assertAccessible(page, 'the secret-gone page');

      await page.goto(`${server.url}/settings/api-keys`);
      assert.equal(await page.getByRole('row', { name: /Reload test/ }).count(), 1, 'one key, not two');

      // Rotating asks for the new key's expiry first.
      await page
        .getByRole('row', { name: /Reload test/ })
        .getByRole('link', { name: 'Reload test' })
        .first()
        .click();
      await page.getByRole('link', { name: 'Rotate key' }).click();
      await page.getByRole('heading', { name: /Rotate the API key/ }).waitFor();
      await screenshotBoth(page, 'api-key-rotate');
      await assertAccessible(page, 'the rotate key page');
      await page.getByLabel('30 days', { exact: true }).check();
      await page.getByRole('button', { name: 'Rotate key' }).click();
      await page.getByRole('heading', { name: 'Your rotated API key' }).waitFor();
      assert.notEqual(await page.getByLabel('API key', { exact: true }).inputValue(), key);
    } finally {
      await context.close();
    }
  });

  it('rotating a client secret asks first, with an overlap, and shows the new secret once', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      await signedUp(page, 'sam.apps@example.com');
      await page.goto(`${server.url}/settings/applications/new`);
      await page.getByLabel('Type').selectOption('service');
      await page.getByLabel('Application name').fill('Nightly sync');
      await page.getByLabel('Read user information').check();
      await page.getByRole('button', { name: 'Register application' }).click();
      await page.getByRole('heading', { name: 'Nightly sync is registered' }).waitFor();
      const first = await page.getByLabel('Client secret').inputValue();
      await page.getByRole('link', { name: "Done, I've stored it" }).click();

      await page.getByRole('link', { name: 'Rotate secret' }).click();
      await page.getByRole('heading', { name: /Rotate the client secret of/ }).waitFor();
      await screenshotBoth(page, 'application-rotate');
      await assertAccessible(page, 'the rotate client secret page');
      await page.getByLabel('24 hours').check();
      await page.getByRole('button', { name: 'Rotate secret' }).click();
      await page.getByRole('heading', { name: 'New client secret for Nightly sync' }).waitFor();
      await page.getByText('The previous secret keeps working until').waitFor();
      const second = await page.getByLabel('Client secret').inputValue();
      assert.notEqual(second, first);
      await screenshotBoth(page, 'application-secret-rotated');

      await page.goBack();
      await page.goForward();
      await page.getByRole('heading', { name: GONE }).waitFor();
      assert.ok(!(await page.content()).includes(second));
    } finally {
      await context.close();
    }
  });
});
