import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';

// Settings → Sessions as a person uses it: signed in on a laptop and on another computer, the
// laptop lists both, marks itself, and signs the other one out; the other computer is signed out.

const PASSWORD = 'correct horse battery';
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

describe('Settings → Sessions in Chromium', { timeout: 120_000 }, () => {
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

  async function signIn(page: Page, email: string): Promise<void> {
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/dashboard`);
  }

  it('lists both browsers, marks this one, and signs the other one out', async () => {
    const email = 'two.browsers@example.com';
    const laptop = await chromium.newContext();
    const other = await chromium.newContext({ userAgent: FIREFOX_ON_WINDOWS });
    try {
      const here = await laptop.newPage();
      await here.goto(`${server.url}/signup`);
      await here.getByLabel('Email').fill(email);
      await here.getByLabel('Password').fill(PASSWORD);
      await here.getByRole('button', { name: 'Create account' }).click();
      await signInAfterSignUp(here, server.url, email, PASSWORD);
      const there = await other.newPage();
      await signIn(there, email);

      await here.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Sessions' }).click();
      await here.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
      const rows = here.locator('table tbody tr');
      assert.equal(await rows.count(), 2, 'one row per signed-in browser');
      const current = here.locator('tr[aria-current="true"]');
      assert.equal(await current.count(), 1);
      assert.match((await current.textContent()) ?? '', /Chrome on Linux[\s\S]*This device/);
      const otherRow = rows.filter({ hasText: 'Firefox on Windows' });
      assert.equal(await otherRow.count(), 1);
      assert.doesNotMatch((await otherRow.textContent()) ?? '', /This device/);
      await assertAccessible(here, '/settings/sessions');
      await screenshotBoth(here, 'sessions-two-browsers');

      await otherRow.getByRole('button', { name: /^Sign out Firefox on Windows/ }).click();
      await here.waitForURL(/\/settings\/sessions\?done=signed-out$/);
      assert.equal(await here.locator('table tbody tr').count(), 1, 'only this browser is left');
      assert.equal(await here.getByRole('button', { name: 'Sign out all other sessions' }).count(), 0);
      await screenshotBoth(here, 'sessions-signed-out-other');

      // The other browser finds itself signed out; this one is not.
      await there.goto(`${server.url}/settings/sessions`);
      await there.waitForURL(/\/login\?return_to=%2Fsettings%2Fsessions$/);
      await there.getByRole('heading', { name: 'Sign in' }).waitFor();
      await here.reload();
      await here.getByRole('heading', { name: 'Sessions', level: 1 }).waitFor();
    } finally {
      await laptop.close();
      await other.close();
    }
  });
});
