import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium } from 'playwright-core';
import { axeViolations } from './axe.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { PASSWORD, uniqueEmail } from '../test/support/world.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The API reference at /docs in real Chromium: Swagger UI renders the API's operations from our
// own origin, with no CSP violation and no request to any other host, and the dashboard links to
// it. axe-core's findings inside Swagger UI's own markup are a known limitation (SECURITY.md and
// docs/api-reference.md list them): asserted exactly, so a new kind of problem still fails here.

/** What axe-core finds in Swagger UI 5's rendering that our page cannot change (rule ids). */
const KNOWN_SWAGGER_UI_FINDINGS = new Set([
  'color-contrast',
  'heading-order',
  'landmark-main-is-top-level',
  'landmark-no-duplicate-main',
  'landmark-unique',
  'nested-interactive',
  'select-name',
]);

describe('API reference in Chromium', { timeout: 180_000 }, () => {
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

  it("renders the API's operations from our own origin, with no CSP violation", async () => {
    const page = await (await chromium.newContext()).newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) problems.push(`request to ${r.url()}`);
    });
    await page.goto(`${server.url}/docs`);
    await page.getByText('/v2/auth/test', { exact: true }).first().waitFor();
    await page.getByText('Check a credential (its effective scopes)').first().waitFor();
    // Opening an operation shows its responses.
    await page.getByText('/v2/auth/test', { exact: true }).first().click();
    await page.locator('.responses-wrapper').first().waitFor();
    // A missing favicon is the browser's own request, not the page's.
    assert.deepEqual(
      problems.filter((p) => !/Failed to load resource: .*404/.test(p)),
      [],
    );

    const found = new Set((await axeViolations(page)).map((v) => v.id));
    const unexpected = [...found].filter((id) => !KNOWN_SWAGGER_UI_FINDINGS.has(id));
    assert.deepEqual(unexpected, [], `axe found new problems on /docs: ${unexpected.join(', ')}`);
    await screenshotBoth(page, 'docs');
  });

  it('is linked from the dashboard navigation', async () => {
    const email = uniqueEmail('reader');
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    const page = await (await chromium.newContext()).newPage();
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/dashboard`);
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'API reference' }).click();
    await page.waitForURL(`${server.url}/docs`);
    await page.getByText('/v2/auth/test', { exact: true }).first().waitFor();
    const current = page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'API reference' });
    assert.equal(await current.getAttribute('aria-current'), 'page');
  });
});
