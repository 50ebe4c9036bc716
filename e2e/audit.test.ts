import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser as Chromium, Page } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The audit trail in a browser: a person generates a key and reads it, with their sign-in, in
// Settings → Activity; an administrator narrows /admin/audit to one event type and downloads the
// CSV export of that filter.

const PASSWORD = 'correct horse battery';

describe('audit trail in Chromium', { timeout: 180_000 }, () => {
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

  async function signIn(page: Page, email: string, isAdmin = false): Promise<string> {
    const account = await server.built.services.accounts.signUp({ email, password: PASSWORD, isAdmin }, BY_SYSTEM);
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/dashboard`);
    return account.id;
  }

  it('shows a person their sign-in and the key they created in Settings → Activity', async () => {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await signIn(page, 'activity.reader@example.com');
      await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'API Keys' }).click();
      await page.getByRole('link', { name: 'Generate New Key' }).first().click();
      await page.getByLabel('Name').fill('deploy');
      await page.getByLabel('Read user information').check();
      await page.getByLabel('30 days', { exact: true }).check();
      await page.getByRole('button', { name: 'Generate key' }).click();
      await page.getByRole('heading', { name: 'Your new API key' }).waitFor();

      await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Activity' }).click();
      await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
      const rows = page.locator('table tbody tr');
      const created = rows.filter({ hasText: 'API key "deploy" created' });
      assert.equal(await created.count(), 1);
      assert.match((await created.textContent()) ?? '', /You[\s\S]*127\.0\.0\.1[\s\S]*Chrome on Linux/);
      const signedIn = rows.filter({ hasText: 'Signed in with a password' });
      assert.equal(await signedIn.count(), 1);
      // Newest first: the key was created after the sign-in.
      assert.match((await rows.first().textContent()) ?? '', /API key "deploy" created/);
      await assertAccessible(page, '/settings/activity');
      await screenshotBoth(page, 'audit-activity');
    } finally {
      await context.close();
    }
  });

  it('lets an administrator filter /admin/audit by type and download the CSV export', async () => {
    const context = await chromium.newContext({ acceptDownloads: true });
    try {
      const page = await context.newPage();
      await signIn(page, 'audit.admin@example.com', true);
      const { audit, auditLog } = server.built.services;
      await auditLog.append([
        audit.event('sign_in.failed', { account: null, data: { reason: 'unknown email' } }, BY_SYSTEM),
        audit.event('password.changed', { account: null }, BY_SYSTEM),
      ]);

      await page.goto(`${server.url}/admin/audit`);
      await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
      await page.getByLabel('Event type').selectOption('sign_in.failed');
      await page.getByRole('button', { name: 'Show events' }).click();
      await page.waitForURL(/type=sign_in\.failed/);
      const rows = page.locator('table tbody tr');
      assert.equal(await rows.count(), 1);
      assert.match((await rows.first().textContent()) ?? '', /Sign-in refused \(unknown email\)/);
      await assertAccessible(page, '/admin/audit');
      await screenshotBoth(page, 'audit-admin-filtered');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'CSV', exact: true }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^latchkey-audit-\d{4}-\d\d-\d\d\.csv$/);
      const lines = fs
        .readFileSync((await download.path())!, 'utf8')
        .trimEnd()
        .split('\r\n');
      assert.match(lines[0]!, /^id,created_at,type,/);
      assert.equal(lines.length, 2, 'the header and the one event of the filter');
      assert.match(lines[1]!, /,sign_in\.failed,/);
    } finally {
      await context.close();
    }
  });
});
