import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser as Chromium, Page } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { startLoopbackSite, type LoopbackSite } from './loopback-site.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';

// What a person can read of webhook deliveries and API-key use, in real Chromium: send a test
// event, open its delivery and read the receiver's answer (as text); page through a key's requests
// with a filter.

const PASSWORD = 'correct horse battery';

describe('Observability pages in Chromium', { timeout: 180_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;
  let receiver: LoopbackSite;
  let users = 0;

  before(async () => {
    // A loopback receiver is a private address: allowed here on purpose. It refuses, with markup.
    // Deliveries go out when the test drains the worker, never on a timer behind its back.
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' }, webhookPollMs: 3_600_000 });
    receiver = await startLoopbackSite((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'text/html' });
        res.end('<script>document.title="pwned"</script><h1>Signature mismatch</h1>');
      });
    });
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), receiver?.close()]);
  });

  async function signedInPage(name: string): Promise<Page> {
    const page = await (await chromium.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${++users}@example.com`;
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, PASSWORD);
    return page;
  }

  it('sends a test event and reads its delivery: body, headers and the response excerpt as text', async () => {
    const page = await signedInPage('Tess Test');
    try {
      await page.goto(`${server.url}/settings/webhooks/new`);
      const url = `${receiver.origin}/hooks/tess`;
      await page.getByLabel('Endpoint URL').fill(url);
      await page.getByLabel('An API key was generated').check();
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByRole('heading', { name: 'Endpoint added' }).waitFor();
      await page.goto(`${server.url}/settings/webhooks`);
      await page.getByRole('link', { name: url }).click();

      await page.getByRole('button', { name: 'Send test event' }).click();
      await page.getByText('Test event queued.').waitFor();
      await server.built.webhookWorker.drain();
      await page.reload();
      const row = page.getByRole('row', { name: /webhook\.test/ });
      assert.match((await row.textContent())!, /400/);
      await row.getByRole('link', { name: 'webhook.test' }).click();

      await page.getByRole('heading', { name: /webhook\.test delivery/ }).waitFor();
      const excerpt = page.getByLabel('Response body of attempt 1');
      assert.equal(
        (await excerpt.textContent())!.trim(),
        '<script>document.title="pwned"</script><h1>Signature mismatch</h1>',
      );
      assert.notEqual(await page.title(), 'pwned', 'shown, never run');
      assert.match((await page.getByLabel('Body sent').textContent())!, /"type": "webhook\.test"/);
      await page.getByText('Request headers').click();
      assert.match((await page.getByLabel('Request headers of attempt 1').textContent())!, /webhook-signature: v1,/);
      await assertAccessible(page, 'the delivery page');
      await screenshotBoth(page, 'webhook-delivery');

      // Waiting for its retry: "Retry now" sends it at once.
      await page.getByRole('button', { name: 'Retry now' }).click();
      await page.getByText('Retry queued.').waitFor();
      await server.built.webhookWorker.drain();
      await page.reload();
      const retried = page.getByRole('row', { name: /webhook\.test/ });
      assert.equal((await retried.locator('td[data-label="Attempts"]').textContent())!.trim(), '2');
      await assertAccessible(page, 'the endpoint page');
      await screenshotBoth(page, 'webhook-endpoint-log');
    } finally {
      await page.context().close();
    }
  });

  it("pages through a key's requests, and filters them by status", async () => {
    const page = await signedInPage('Paige Pager');
    try {
      await page.goto(`${server.url}/settings/api-keys/new`);
      await page.getByLabel('Name').fill('Pager');
      await page.getByLabel('Read project data').check();
      await page.getByLabel('Never', { exact: true }).check();
      await page.getByRole('button', { name: 'Generate key' }).click();
      await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
      const key = await page.getByLabel('API key', { exact: true }).inputValue();
      const call = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 55; i++) assert.equal((await call('/v2/auth/test')).status, 200);
      // Reading users needs a scope this key lacks: 403, and logged.
      for (let i = 0; i < 3; i++) assert.equal((await call('/v2/users')).status, 403);

      await page.goto(`${server.url}/settings/api-keys`);
      await page.getByRole('link', { name: 'Pager' }).first().click();
      await page.getByRole('heading', { name: 'Requests', exact: true }).waitFor();
      const rows = page.locator('table.log tbody tr');
      assert.equal(await rows.count(), 50);
      await page.getByRole('link', { name: 'Older' }).click();
      await page.getByRole('link', { name: 'Newer' }).waitFor();
      assert.equal(await rows.count(), 8);

      await page.getByLabel('Status').fill('4xx');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByRole('link', { name: 'Clear' }).waitFor();
      assert.equal(await rows.count(), 3);
      for (const text of await rows.allTextContents()) assert.match(text, /403/);
      assert.equal(await page.getByRole('link', { name: 'Older' }).count(), 0);
      await assertAccessible(page, 'the key page, filtered');
      await screenshotBoth(page, 'api-key-activity-filtered');
    } finally {
      await page.context().close();
    }
  });
});
