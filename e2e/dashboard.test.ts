import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { startLoopbackSite } from './loopback-site.ts';
import { launchChromium, signInAfterSignUp } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, authorizeUrl, registerApp, signUp } from '../test/support/http.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The developer dashboard in real Chromium, one journey per test, each as a person would do it:
// sign up, click through the navigation, fill the forms, copy what is shown once. Each journey
// saves full-page screenshots under test-results/screenshots/ (git-ignored) for people to review.

const PASSWORD = 'correct horse battery';
const SCREENSHOTS = path.resolve('test-results/screenshots');
const DOCUMENTED_WARNING =
  'API keys are shown only once. Store them securely and never expose them in client-side code.';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback HTTP server that answers 200 to everything and records each request. */
async function startLoopback(
  answer: (req: http.IncomingMessage) => string,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const site = await startLoopbackSite((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(answer(req));
    });
  });
  return {
    url: site.origin,
    received,
    close: site.close,
  };
}

describe('Developer dashboard in Chromium', { timeout: 180_000, concurrency: true }, () => {
  let server: TestServer;
  let callback: Awaited<ReturnType<typeof startLoopback>>;
  let receiver: Awaited<ReturnType<typeof startLoopback>>;
  let chromiumBrowser: Chromium;
  let users = 0;
  let signupShot = false;

  before(async () => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    // Loopback webhook receivers are private addresses: allowed here on purpose.
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' } });
    callback = await startLoopback(() => '<!doctype html><title>Callback</title><p>Callback received</p>');
    receiver = await startLoopback(() => 'ok');
    chromiumBrowser = await launchChromium();
  });

  after(async () => {
    await chromiumBrowser?.close();
    await Promise.all([server?.dispose(), callback?.close(), receiver?.close()]);
  });

  const callbackUrl = () => `${callback.url}/callback`;

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await chromiumBrowser.newContext({
      viewport: { width: 1280, height: 800 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    return { context, page: await context.newPage() };
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** Signs up through /signup, then signs in on the page it leads to; the browser lands on the dashboard. */
  async function signUpInBrowser(page: Page, name: string): Promise<string> {
    const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${++users}@example.com`;
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    if (!signupShot) {
      signupShot = true;
      await screenshot(page, 'signup');
    }
    await page.getByRole('button', { name: 'Create account' }).click();
    await signInAfterSignUp(page, server.url, email, PASSWORD);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    return email;
  }

  /** A click in the dashboard's section navigation. */
  async function goToSection(page: Page, name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true }).click();
  }

  /** Settings → API Keys → Generate New Key, with these permissions and expiration. */
  async function generateKey(page: Page, name: string, permissions: string[], expiration: string): Promise<string> {
    await goToSection(page, 'API Keys');
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Generate New Key' }).first().click();
    await page.getByLabel('Name').fill(name);
    for (const p of permissions) await page.getByLabel(p).check();
    await page.getByLabel(expiration, { exact: true }).check();
    await page.getByRole('button', { name: 'Generate key' }).click();
    await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
    return page.getByLabel('API key', { exact: true }).inputValue();
  }

  async function bearer(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/v2/auth/test`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Logs in on the page the authorization request led to (if it asks), approves, and returns the code. */
  // The applications use PKCE (the dashboard's form registers them with it required).
  const codeVerifier = crypto.randomBytes(32).toString('base64url');
  const codeChallenge = crypto.createHash('sha256').update(codeVerifier).digest('base64url');

  async function authorizeInBrowser(
    page: Page,
    email: string,
    clientId: string,
    scope: string,
    state: string,
    shot?: string,
  ): Promise<string> {
    await page.goto(authorizeUrl(server.url, { clientId, redirectUri: callbackUrl(), scope, state, codeChallenge }));
    const signIn = page.getByRole('heading', { name: 'Sign in' });
    const approve = page.getByRole('button', { name: 'Approve' });
    await signIn.or(approve).first().waitFor();
    if (await signIn.isVisible()) {
      if (shot) await screenshot(page, 'login');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await approve.waitFor();
    if (shot) await screenshot(page, shot);
    await approve.click();
    await page.waitForURL((url) => url.href.startsWith(callbackUrl()));
    await page.getByText('Callback received').waitFor();
    const landed = new URL(page.url());
    assert.equal(landed.searchParams.get('state'), state);
    const code = landed.searchParams.get('code');
    assert.ok(code, 'the callback carries a code');
    return code;
  }

  async function exchange(
    code: string,
    clientId: string,
    clientSecret: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        code,
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uri: callbackUrl(),
        code_verifier: codeVerifier,
      }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it(
    'generate-key: Settings → API Keys → Generate New Key, copy the key once, and it works at ' + '/v2/auth/test',
    async () => {
      const { context, page } = await newPage();
      try {
        await signUpInBrowser(page, 'Kim Keys');
        await screenshot(page, 'dashboard');

        await goToSection(page, 'API Keys');
        await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
        await page.getByRole('link', { name: 'Generate New Key' }).first().click();
        await page.getByRole('heading', { name: 'Generate a new API key' }).waitFor();
        await page.getByLabel('Name').fill('Billing worker');
        await page.getByLabel('Read user information').check();
        await page.getByLabel('Create/update projects').check();
        await page.getByLabel('30 days', { exact: true }).check();
        await screenshot(page, 'generate-key-form');
        await page.getByRole('button', { name: 'Generate key' }).click();

        // Shown once, on the page the POST redirects to: not in the URL, with the shown-once warning and a Copy button.
        await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
        assert.match(new URL(page.url()).pathname, /^\/settings\/api-keys\/[0-9A-Za-z]{12}\/new-key$/);
        await page.getByText(DOCUMENTED_WARNING).waitFor();
        await page.getByRole('button', { name: 'Copy' }).click();
        await page.getByText('Copied to the clipboard.').waitFor();
        const key = await page.evaluate(() => navigator.clipboard.readText());
        assert.match(key, /^lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}$/);
        assert.equal(key, await page.getByLabel('API key', { exact: true }).inputValue());
        assert.ok(!page.url().includes(key));
        await screenshot(page, 'generate-key');

        const t0 = Date.now();
        const { status, body } = await bearer(key);
        assert.equal(status, 200);
        assert.equal(body['valid'], true);
        assert.equal(body['method'], 'api_key');
        assert.deepEqual([...(body['scopes'] as string[])].sort(), ['read:users', 'write:projects']);
        const expiresIn = Date.parse(body['expires_at'] as string) - t0;
        assert.ok(Math.abs(expiresIn - 30 * 86_400_000) < 120_000, `expires in 30 days (got ${expiresIn} ms)`);
        for (let i = 0; i < 4; i++) assert.equal((await bearer(key)).status, 200);

        // The list shows the key's prefix, never the key.
        await page.getByRole('link', { name: "Done, I've stored it" }).click();
        await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor();
        const row = page.getByRole('row', { name: /Billing worker/ });
        await row.waitFor();
        assert.ok((await row.textContent())!.includes(key.slice(0, 16)), 'the row shows the prefix');
        assert.ok(!(await page.content()).includes(key), 'the full key is never shown again');
        await screenshot(page, 'api-keys');
        await page.setViewportSize({ width: 390, height: 800 });
        await screenshot(page, 'api-keys-mobile');
        await page.setViewportSize({ width: 1280, height: 800 });

        // Its activity page: the requests just made, in the chart and in the log.
        await row.getByRole('link', { name: 'Billing worker', exact: true }).click();
        await page.getByRole('heading', { name: 'Requests per day' }).waitFor();
        assert.equal(await page.locator('svg.chart rect.chart-bar').count(), 1, 'one day with requests');
        assert.equal(await page.getByRole('cell', { name: 'GET /v2/auth/test' }).count(), 5);
        await screenshot(page, 'key-activity');

        // The overview now lists the key.
        await goToSection(page, 'Dashboard');
        await page.getByRole('link', { name: 'Billing worker', exact: true }).waitFor();
        await screenshot(page, 'dashboard-with-key');
      } finally {
        await context.close();
      }
    },
  );

  it(
    'register-application: register in the dashboard, then authorize with it in the browser and exchange the ' + 'code',
    async () => {
      const dev = await newPage();
      let clientId: string;
      let clientSecret: string;
      try {
        await signUpInBrowser(dev.page, 'Dana Developer');
        await goToSection(dev.page, 'Applications');
        await dev.page.getByRole('heading', { name: 'Applications', level: 1 }).waitFor();
        await dev.page.getByRole('link', { name: 'Register application' }).first().click();
        await dev.page.getByLabel('Type').selectOption('web');
        await dev.page.getByLabel('Application name').fill('Acme Reports');
        await dev.page.getByLabel('Redirect URIs').fill('https://reports.acme.example/callback');
        await dev.page.getByLabel('Read user information').check();
        await dev.page.getByLabel('Create/update projects').check();
        await screenshot(dev.page, 'register-application-form');
        await dev.page.getByRole('button', { name: 'Register application' }).click();

        await dev.page.getByRole('heading', { name: 'Acme Reports is registered' }).waitFor();
        await dev.page.getByText('Client secrets are shown only once.').waitFor();
        clientId = await dev.page.getByLabel('Client ID').inputValue();
        clientSecret = await dev.page.getByLabel('Client secret').inputValue();
        assert.match(clientId, /^app_/);
        assert.match(clientSecret, /^lkcs_/);
        await screenshot(dev.page, 'register-application');

        // Edit: the redirect URI the application really uses is added.
        await dev.page.getByRole('link', { name: "Done, I've stored it" }).click();
        await dev.page.getByRole('heading', { name: 'Acme Reports', level: 1 }).waitFor();
        assert.ok(!(await dev.page.content()).includes(clientSecret), 'the secret is not shown again');
        await dev.page.getByLabel('Redirect URIs').fill(`https://reports.acme.example/callback\n${callbackUrl()}`);
        await dev.page.getByRole('button', { name: 'Save changes' }).click();
        await dev.page.getByText('Application saved.').waitFor();
        assert.equal(
          await dev.page.getByLabel('Redirect URIs').inputValue(),
          `https://reports.acme.example/callback\n${callbackUrl()}`,
        );
        await screenshot(dev.page, 'application');
      } finally {
        await dev.context.close();
      }

      // Someone authorizes the application in their own browser.
      const user = await newPage();
      try {
        const email = `reader.${++users}@example.com`;
        await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
        const code = await authorizeInBrowser(
          user.page,
          email,
          clientId,
          'read:users write:projects',
          'state-register-app',
          'consent',
        );
        const { status, body } = await exchange(code, clientId, clientSecret);
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(body['scope'], 'read:users write:projects');
        const test = await bearer(body['access_token'] as string);
        assert.equal(test.status, 200);
        assert.equal(test.body['method'], 'oauth');
      } finally {
        await user.context.close();
      }
    },
  );

  it('authorized-apps: revoking an authorized app makes its access token refused', async () => {
    // Another developer's application, registered over HTTP (this journey is the end user's).
    const developer = new Browser(server.url);
    await signUp(developer, `owner.${++users}@example.com`, PASSWORD);
    const app = await registerApp(developer, {
      name: 'Timesheet Sync',
      redirect_uris: [callbackUrl()],
      scopes: ['read:users', 'read:projects'],
    });

    const { context, page } = await newPage();
    try {
      const email = await signUpInBrowser(page, 'Uma User');
      const code = await authorizeInBrowser(page, email, app.client_id, 'read:users read:projects', 'state-revoke');
      const token = await exchange(code, app.client_id, app.client_secret!);
      assert.equal(token.status, 200, JSON.stringify(token.body));
      const accessToken = token.body['access_token'] as string;
      assert.equal((await bearer(accessToken)).status, 200);

      await page.goto(`${server.url}/dashboard`);
      if (new URL(page.url()).pathname === '/login') {
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${server.url}/dashboard`);
      }
      await goToSection(page, 'Authorized apps');
      const row = page.getByRole('row', { name: /Timesheet Sync/ });
      await row.waitFor();
      assert.ok((await row.textContent())!.includes('Read project data'));
      await screenshot(page, 'authorized-apps');

      await row.getByRole('button', { name: 'Revoke access' }).click();
      await page.getByText("Access revoked. The application's tokens no longer work.").waitFor();
      assert.equal(await page.getByRole('row', { name: /Timesheet Sync/ }).count(), 0);
      await screenshot(page, 'authorized-apps-revoked');

      const refused = await bearer(accessToken);
      assert.equal(refused.status, 401);
      assert.equal((refused.body['error'] as { code: string }).code, 'UNAUTHORIZED');
    } finally {
      await context.close();
    }
  });

  it(
    'webhook-deliveries: add an endpoint, trigger an event, see the delivery in its log and redeliver ' + 'it',
    async () => {
      const { context, page } = await newPage();
      try {
        await signUpInBrowser(page, 'Wes Webhooks');
        await goToSection(page, 'Webhooks');
        await page.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
        await page.getByRole('link', { name: 'Add endpoint' }).first().click();
        const endpointUrl = `${receiver.url}/hooks/wes`;
        await page.getByLabel('Endpoint URL').fill(endpointUrl);
        await page.getByLabel('Description').fill('Audit log sync');
        await page.getByLabel('An API key was generated').check();
        await page.getByLabel('An API key was revoked').check();
        await screenshot(page, 'webhook-form');
        await page.getByRole('button', { name: 'Add endpoint' }).click();
        await page.getByRole('heading', { name: 'Endpoint added' }).waitFor();
        const secret = await page.getByLabel('Signing secret').inputValue();
        assert.match(secret, /^whsec_/);
        await screenshot(page, 'webhook-secret');

        // The event: a key generated in the dashboard.
        await generateKey(page, 'Deploy bot', ['Read project data'], 'Never');
        await server.built.webhookWorker.drain();
        const mine = () =>
          receiver.received.filter((r) => JSON.parse(r.body).type === 'api_key.created' && r.headers['webhook-id']);
        assert.equal(mine().length, 1);
        const delivery = mine()[0]!;
        const expected = crypto.createHmac('sha256', secret).update(delivery.body).digest('hex');
        assert.equal(delivery.headers['x-webhook-signature'], expected, 'signed with the secret shown once');
        assert.equal(JSON.parse(delivery.body).data.name, 'Deploy bot');

        // The delivery log.
        await goToSection(page, 'Webhooks');
        await page.getByRole('link', { name: endpointUrl }).click();
        await page.getByRole('heading', { name: 'Delivery log' }).waitFor();
        const row = page.getByRole('row', { name: /api_key\.created/ });
        await row.waitFor();
        const text = (await row.textContent())!;
        assert.match(text, /Delivered/);
        assert.match(text, /200/);
        await screenshot(page, 'webhook-deliveries');

        // Redeliver: the same event (same webhook-id) arrives again.
        await row.getByRole('button', { name: /^Redeliver/ }).click();
        await page.getByText('Redelivery queued.').waitFor();
        await server.built.webhookWorker.drain();
        assert.equal(mine().length, 2);
        assert.equal(mine()[1]!.headers['webhook-id'], delivery.headers['webhook-id']);
        await page.reload();
        const again = page.getByRole('row', { name: /api_key\.created/ });
        await again.getByRole('cell', { name: '2', exact: true }).waitFor();
        assert.match((await again.textContent())!, /Delivered/);
      } finally {
        await context.close();
      }
    },
  );
});
