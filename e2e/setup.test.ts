import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { createLogger } from '../src/logger.ts';
import { announceSetupLink } from '../src/features/setup/setup.service.ts';

// First-run setup in real Chromium: a fresh server prints its link (the start's own announcement,
// read from its log line), the operator opens it, creates the owner account and lands on the
// dashboard signed in as an admin; the link is then spent. Both pages pass axe and fit a phone.

const PASSWORD = 'correct horse battery';

describe('First-run setup in Chromium', { timeout: 180_000 }, () => {
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

  it('fresh server → the printed link → the owner account → the dashboard, as an admin', async () => {
    const lines: string[] = [];
    await announceSetupLink(server.built.services.setup, createLogger('info', { write: (l) => lines.push(l) }));
    assert.equal(lines.length, 1);
    const link = /(http:\/\/\S+\/setup\?token=[A-Za-z0-9]+)/.exec(JSON.parse(lines[0]!).msg)![1]!;

    const page = await (await chromium.newContext()).newPage();
    // Without the link: a page that says so, and no form.
    await page.goto(`${server.url}/setup`);
    await page.getByRole('heading', { name: 'This setup link is not valid', level: 1 }).waitFor();
    assert.equal(await page.locator('form[action="/setup"]').count(), 0);
    await assertAccessible(page, '/setup (no link)');

    await page.goto(link);
    await page.getByRole('heading', { name: 'Set up Latchkey', level: 1 }).waitFor();
    await assertAccessible(page, '/setup');
    await screenshotBoth(page, 'setup');
    await page.getByLabel('Name').fill('Olive Owner');
    await page.getByLabel('Email').fill('olive.owner@example.com');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create owner account' }).click();

    await page.waitForURL(`${server.url}/dashboard`);
    await page.getByRole('heading', { level: 1 }).first().waitFor();
    await page.getByText('olive.owner@example.com').first().waitFor();
    // An admin with a proven address: no "confirm your email" banner, and admin:all is offered.
    assert.equal(await page.locator('.verify-banner').count(), 0);
    const owner = await server.built.services.accounts.findByEmail('olive.owner@example.com');
    assert.equal(owner?.isAdmin, true);
    assert.equal(owner?.emailVerified, true);
    await page.goto(`${server.url}/settings/api-keys/new`);
    await page.getByText('admin:all').first().waitFor();

    // Spent: the same link now says there is nothing to set up.
    await page.goto(link);
    await page.getByRole('heading', { name: 'Nothing to set up', level: 1 }).waitFor();
    assert.equal(await page.locator('form[action="/setup"]').count(), 0);
  });
});
