import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { sessionPrincipal } from '../src/domain/principal.ts';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The operators' console in Chromium: an admin suspends a service application, and its next
// client_credentials request is refused; each console page is checked with axe-core and shot at
// desktop and phone width.
describe('admin console: applications, keys, webhooks, signing keys, settings', { timeout: 180_000 }, () => {
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

  async function check(page: Page, name: string): Promise<void> {
    await screenshotBoth(page, name);
    await assertAccessible(page, name);
  }

  const clientCredentials = (clientId: string, secret: string) =>
    fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        scope: 'read:users',
      }).toString(),
    });

  it('suspends an application; its client_credentials request is refused', async () => {
    const { accounts, applications, apiKeys } = server.built.services;
    const password = 'console passphrase for admins';
    await accounts.signUp({ email: 'operator@example.com', password, isAdmin: true }, BY_SYSTEM);
    const owner = await accounts.signUp({ email: 'builder@example.com', password, isAdmin: false }, BY_SYSTEM);
    const app = await applications.register(
      sessionPrincipal(owner),
      {
        name: 'Nightly exporter',
        type: 'service',
        redirect_uris: [],
        scopes: ['read:users'],
      },
      BY_SYSTEM,
    );
    await apiKeys.create(sessionPrincipal(owner), { name: 'builder key', scopes: ['read:users'] }, BY_SYSTEM);
    assert.equal((await clientCredentials(app.client_id, app.client_secret!)).status, 200);

    const page = await (await chromium.newContext()).newPage();
    await page.goto(`${server.url}/login?return_to=%2Fadmin%2Fapplications`);
    await page.getByLabel('Email').fill('operator@example.com');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/admin/applications`);
    await page.getByRole('heading', { name: 'Applications', level: 1 }).waitFor();
    await check(page, 'admin-applications');

    await page.getByRole('link', { name: 'Suspend Nightly exporter' }).click();
    await page.getByRole('heading', { name: /Suspend the application/ }).waitFor();
    await check(page, 'admin-application-suspend');
    await page.getByRole('button', { name: 'Suspend application' }).click();
    await page.getByText('Application suspended').waitFor();

    const refused = await clientCredentials(app.client_id, app.client_secret!);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client');

    for (const [path, heading, name] of [
      ['/admin/api-keys', 'API keys', 'admin-api-keys'],
      ['/admin/webhooks', 'Webhooks', 'admin-webhooks'],
      ['/admin/signing-keys', 'Signing keys', 'admin-signing-keys'],
      ['/admin/settings', 'Settings', 'admin-settings'],
    ] as const) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await check(page, name);
    }
  });
});
