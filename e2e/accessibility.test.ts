import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as OTPAuth from 'otpauth';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { assertAccessible } from './axe.ts';
import { launchChromium, PHONE, screenshotBoth, signInAfterSignUp } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { authorizeUrl } from '../test/support/http.ts';

// The dashboard's form registers web applications with PKCE required (RFC 7636 §4.2's example).
const PKCE_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

// Every page a person can reach, in the order a person reaches them, each checked with axe-core
// (WCAG 2.1 A/AA and best practices) and shot at desktop and phone width (390 px, where nothing may
// scroll sideways). The list is data: a new page is one more entry.

const PASSWORD = 'correct horse battery';
const EMAIL = 'ada.a11y@example.com';
const REDIRECT_URI = 'https://reports.example/callback';

/** What a step may use: the browser page (signed in once the sign-up step has run) and the server. */
interface Journey {
  page: Page;
  url: string;
  server: TestServer;
  /** Where the webhook endpoint delivers (a loopback receiver answering 200). */
  receiverUrl: string;
  /** The TOTP secret shown on the enrolment page, once that step has run. */
  totpSecret?: string;
  clientId?: string;
  /** The user code of a device authorization the device pages are reached with. */
  deviceUserCode?: string;
}

interface Visit {
  /** The page's name in failures and in the screenshot files (`a11y-<name>-390.png`). */
  name: string;
  /** Brings the browser to the page (a link, a form, or a plain visit). */
  reach(j: Journey): Promise<void>;
}

const visit =
  (path: string, heading?: string | RegExp) =>
  async (j: Journey): Promise<void> => {
    await j.page.goto(`${j.url}${path}`);
    if (heading) await j.page.getByRole('heading', { name: heading, level: 1 }).waitFor();
  };

const totp = (secret: string, offsetMs = 0) =>
  new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 }).generate({
    timestamp: Date.now() + offsetMs,
  });

/** A six-digit code that is not the current one (nor the next or previous). */
const wrongCode = (secret: string) => {
  const near = new Set([-30_000, 0, 30_000].map((d) => totp(secret, d)));
  return ['000000', '111111', '222222', '333333'].find((c) => !near.has(c))!;
};

/**
 * At phone width, the cards whose content is cut off: a panel clips what overflows it (rounded
 * corners), so a too-wide table inside one never makes the page scroll sideways, it just loses
 * its last columns. Scroll areas (a code sample, a wide table in its own scroller) are allowed.
 */
async function clippedAtPhoneWidth(page: Page): Promise<string[]> {
  const before = page.viewportSize();
  await page.setViewportSize(PHONE);
  const clipped = await page.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('.panel, .card'))
      .filter((el) => el.scrollWidth > el.clientWidth + 1)
      .map((el) => {
        const heading = el.querySelector('h1, h2, summary')?.textContent?.trim() ?? el.className;
        return `"${heading}" holds ${el.scrollWidth - el.clientWidth}px more than it shows`;
      }),
  );
  if (before) await page.setViewportSize(before);
  return clipped;
}

const PAGES: Visit[] = [
  // First-run setup: the server is fresh (no admin), so a start would print this link.
  {
    name: 'setup',
    async reach(j) {
      await j.page.goto((await j.server.built.services.setup.issueLink())!);
      await j.page.getByRole('heading', { name: 'Set up Latchkey', level: 1 }).waitFor();
    },
  },
  { name: 'setup-refused', reach: visit('/setup', 'This setup link is not valid') },
  { name: 'sign-up', reach: visit('/signup') },
  {
    name: 'sign-up-refused',
    async reach({ page }) {
      await page.getByLabel('Email').fill('refused@example.com');
      await page.getByLabel('Password').fill('1234567890');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.locator('.error').first().waitFor();
    },
  },
  { name: 'sign-in', reach: visit('/login') },
  {
    name: 'sign-in-wrong-password',
    async reach({ page }) {
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('Invalid email or password').waitFor();
    },
  },
  {
    name: 'dashboard',
    async reach({ page, url }) {
      await page.goto(`${url}/signup`);
      await page.getByLabel('Name').fill('Ada Lovelace');
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await signInAfterSignUp(page, url, EMAIL, PASSWORD);
    },
  },
  { name: 'webhook-new', reach: visit('/settings/webhooks/new') },
  {
    name: 'webhook-secret',
    async reach({ page, receiverUrl }) {
      await page.getByLabel('Endpoint URL').fill(`${receiverUrl}/latchkey/a-rather-long-path/receiver`);
      await page.getByLabel('Description').fill('Audit log sync');
      await page.getByLabel('An API key was generated').check();
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      await page.getByLabel('Signing secret').waitFor();
    },
  },
  { name: 'webhooks', reach: visit('/settings/webhooks', 'Webhooks') },
  { name: 'api-key-new', reach: visit('/settings/api-keys/new') },
  {
    name: 'api-key-created',
    async reach({ page }) {
      await page.getByLabel('Name').fill('Billing worker with a rather long descriptive name');
      await page.getByLabel('Read user information').check();
      await page.getByLabel('30 days', { exact: true }).check();
      await page.getByRole('button', { name: 'Generate key' }).click();
      await page.getByRole('heading', { name: 'Your new API key' }).waitFor();
    },
  },
  { name: 'api-keys', reach: visit('/settings/api-keys', 'API keys') },
  {
    name: 'api-key',
    async reach({ page }) {
      await page.getByRole('link', { name: 'Billing worker with a rather long descriptive name' }).first().click();
      await page.getByRole('heading', { name: 'Billing worker with a rather long descriptive name' }).waitFor();
    },
  },
  {
    name: 'confirm-revoke',
    async reach({ page }) {
      await page.getByRole('link', { name: 'Revoke' }).first().click();
      await page.waitForURL(/\/revoke$/);
    },
  },
  { name: 'application-new', reach: visit('/settings/applications/new') },
  {
    name: 'application-secret',
    async reach(j) {
      const { page } = j;
      await page.getByLabel('Type').selectOption('web');
      await page.getByLabel('Application name').fill('Acme Reports');
      await page.getByLabel('Redirect URIs').fill(REDIRECT_URI);
      await page.getByLabel('Read user information').check();
      await page.getByRole('button', { name: 'Register application' }).click();
      j.clientId = await page.getByLabel('Client ID').inputValue();
    },
  },
  { name: 'applications', reach: visit('/settings/applications', 'Applications') },
  {
    name: 'application',
    async reach({ page }) {
      await page.getByRole('link', { name: 'Acme Reports' }).first().click();
      await page.getByRole('heading', { name: 'Acme Reports', level: 1 }).waitFor();
    },
  },
  { name: 'apis-empty', reach: visit('/settings/apis', 'APIs') },
  { name: 'api-new', reach: visit('/settings/apis/new', 'Register an API') },
  {
    name: 'api-new-error',
    async reach({ page }) {
      await page.getByLabel('Name').fill('Orders');
      await page.getByLabel('Identifier').fill('http://orders.example.com');
      await page.getByLabel('Scopes').fill('read:orders: Read your orders\nwrite:orders: Place orders for you');
      await page.getByRole('button', { name: 'Register API' }).click();
      await page.locator('#identifier-error').waitFor();
    },
  },
  {
    name: 'api',
    async reach({ page }) {
      await page.getByLabel('Identifier').fill('https://orders.example.com/v1');
      await page.getByRole('button', { name: 'Register API' }).click();
      await page.getByRole('heading', { name: 'Orders', level: 1 }).waitFor();
    },
  },
  { name: 'apis', reach: visit('/settings/apis', 'APIs') },
  {
    name: 'confirm-delete-api',
    async reach({ page }) {
      await page.getByRole('link', { name: 'Orders' }).first().click();
      await page.getByRole('link', { name: 'Delete API' }).click();
      await page.getByRole('heading', { name: /Delete the API/ }).waitFor();
    },
  },
  {
    name: 'webhook',
    async reach({ page, url, server }) {
      // The key generated above was an event: its delivery is in the log.
      await server.built.webhookWorker.drain();
      await page.goto(`${url}/settings/webhooks`);
      await page
        .getByRole('link', { name: /a-rather-long-path/ })
        .first()
        .click();
      await page.getByRole('row', { name: /api_key\.created/ }).waitFor();
    },
  },
  { name: 'dashboard-in-use', reach: visit('/dashboard', 'Dashboard') },
  {
    name: 'consent',
    async reach({ page, url, clientId }) {
      await page.goto(
        authorizeUrl(url, {
          clientId: clientId!,
          redirectUri: REDIRECT_URI,
          scope: 'openid read:users',
          state: 's',
          codeChallenge: PKCE_CHALLENGE,
        }),
      );
      const signIn = page.getByRole('heading', { name: 'Sign in' });
      const approve = page.getByRole('button', { name: 'Approve' });
      await signIn.or(approve).first().waitFor();
      if (await signIn.isVisible()) {
        await page.getByLabel('Password').fill(PASSWORD);
        if (!(await page.getByLabel('Email').inputValue())) await page.getByLabel('Email').fill(EMAIL);
        await page.getByRole('button', { name: 'Sign in' }).click();
      }
      await approve.waitFor();
    },
  },
  {
    name: 'authorized-apps',
    async reach({ page, url }) {
      // The application's callback, answered here: nothing listens at its address.
      await page.route(`${REDIRECT_URI}**`, (route) => route.fulfill({ body: 'Callback received' }));
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL((u) => u.href.startsWith(REDIRECT_URI));
      await page.goto(`${url}/settings/authorized-apps`);
      await page.getByRole('heading', { name: 'Acme Reports' }).or(page.getByText('Acme Reports')).first().waitFor();
    },
  },
  {
    name: 'device-code',
    async reach(j) {
      // A TV app (native: allowed the device flow) asks for a code, as a device does.
      const registered = await j.page.request.post(`${j.url}/oauth/applications`, {
        data: {
          name: 'Living-room TV',
          type: 'native',
          redirect_uris: ['http://127.0.0.1/cb'],
          scopes: ['read:users'],
        },
      });
      const { client_id: clientId } = (await registered.json()) as { client_id: string };
      const device = await fetch(`${j.url}/oauth/device/auth`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, scope: 'openid read:users' }),
      });
      j.deviceUserCode = ((await device.json()) as { user_code: string }).user_code;
      await visit('/device', 'Connect a device')(j);
    },
  },
  {
    name: 'device-code-wrong',
    async reach({ page }) {
      await page.getByLabel('Code').fill('BCDF-GHJK');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByText('That code is not right').waitFor();
    },
  },
  {
    name: 'device-confirm',
    async reach({ page, deviceUserCode }) {
      await page.getByLabel('Code').fill(deviceUserCode!.toLowerCase());
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Connect Living-room TV?' }).waitFor();
    },
  },
  {
    name: 'device-consent',
    async reach({ page }) {
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Approve' }).waitFor();
    },
  },
  {
    name: 'device-done',
    async reach({ page }) {
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { name: 'You can return to your device' }).waitFor();
    },
  },
  { name: 'security', reach: visit('/settings/security', 'Security') },
  {
    name: 'two-factor-enrol',
    async reach(j) {
      await j.page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
      await j.page.getByText('Scan this QR code').waitFor();
      j.totpSecret = (await j.page.locator('#totp-secret').textContent())!.trim();
    },
  },
  {
    name: 'two-factor-enrol-wrong-code',
    async reach({ page, totpSecret }) {
      await page.getByLabel('Authentication code').fill(wrongCode(totpSecret!));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByText('That code is not right').waitFor();
      assert.equal(await page.locator('#totp-secret').textContent(), totpSecret, 'the same secret, to retry');
    },
  },
  {
    name: 'recovery-codes',
    async reach({ page, totpSecret }) {
      await page.getByLabel('Authentication code').fill(totp(totpSecret!));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByText('Save these recovery codes now').waitFor();
    },
  },
  { name: 'sessions', reach: visit('/settings/sessions', 'Sessions') },
  { name: 'activity', reach: visit('/settings/activity', 'Activity') },
  { name: 'confirm-access', reach: visit('/settings/confirm?return_to=%2Fsettings%2Fsecurity') },
  {
    name: 'two-factor-sign-in',
    async reach({ page, url }) {
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(/\/login/);
      await page.goto(`${url}/login`);
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/login\/2fa/);
    },
  },
  {
    name: 'two-factor-sign-in-wrong-code',
    async reach({ page, totpSecret }) {
      await page.getByLabel('Authentication code').fill(wrongCode(totpSecret!));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByText('That code is not valid').waitFor();
    },
  },
  {
    name: 'oauth-sign-in',
    async reach({ page, url, clientId }) {
      await page.goto(
        authorizeUrl(url, {
          clientId: clientId!,
          redirectUri: REDIRECT_URI,
          scope: 'openid read:users',
          state: 't',
          codeChallenge: PKCE_CHALLENGE,
        }),
      );
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    },
  },
  {
    name: 'oauth-two-factor',
    async reach({ page }) {
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByLabel('Authentication code').waitFor();
    },
  },
  { name: 'error-not-found', reach: visit('/no/such/page') },
  {
    name: 'error-unknown-client',
    reach: visit(`/oauth/authorize?client_id=nope&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&response_type=code`),
  },
  { name: 'error-unknown-interaction', reach: visit('/interaction/no-such-interaction') },
];

describe('Every page in Chromium: axe-core clean, and readable at 390 px', { timeout: 600_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;
  let context: BrowserContext;
  let receiver: http.Server;

  before(async () => {
    // The webhook endpoint is a loopback receiver: a private address, allowed here on purpose.
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' } });
    receiver = http.createServer((req, res) => req.resume().on('end', () => res.end('ok')));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    chromium = await launchChromium();
    context = await chromium.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(10_000);
  });
  after(async () => {
    await context?.close();
    await chromium?.close();
    await server?.dispose();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('has no axe-core violation and no sideways scroll on any page', async () => {
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    const journey: Journey = { page: await context.newPage(), url: server.url, server, receiverUrl };
    const problems: string[] = [];
    for (const visitOf of PAGES) {
      try {
        await visitOf.reach(journey);
      } catch (err) {
        throw new Error(`could not reach ${visitOf.name}: ${(err as Error).message}\n\n${problems.join('\n\n')}`);
      }
      const path = new URL(journey.page.url()).pathname;
      // Every page is checked and shot, then all problems are told at once.
      for (const check of [
        () => assertAccessible(journey.page, `${visitOf.name} (${path})`),
        () => screenshotBoth(journey.page, `a11y-${visitOf.name}`),
        async () => {
          const clipped = await clippedAtPhoneWidth(journey.page);
          if (clipped.length) throw new Error(`${visitOf.name} at 390 px: ${clipped.join('; ')}`);
        },
      ]) {
        try {
          await check();
        } catch (err) {
          problems.push((err as Error).message);
        }
      }
    }
    assert.deepEqual(problems, [], problems.join('\n\n'));
  });
});
