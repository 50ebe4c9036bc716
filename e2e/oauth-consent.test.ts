import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { startCallbackSite } from './loopback-site.ts';
import { launchChromium, signInAfterSignUp } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, authorizeUrl, registerApp, signUp } from '../test/support/http.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// Real Chromium against the real server: sign-up, login and consent pages, and where the browser
// finally lands. The client's redirect URI is a tiny loopback server, so the browser really arrives
// there and `page.url()` is what an application would receive.

const PASSWORD = 'correct horse battery';
const SCOPE = 'read:users write:projects';
const APP_NAME = 'Acme Reports';

// The tests are independent (each has its own user and browser context), so they run concurrently.
// The timeout only guards against a hang; it is generous because the runner shares the machine's
// two cores with other test files (measured: 23-34 s with the machine's load average at 7-20).
describe('OAuth login and consent in Chromium', { timeout: 120_000, concurrency: true }, () => {
  let server: TestServer;
  let callback: { url: string; close(): Promise<void> };
  let chromiumBrowser: Chromium;
  let app: { client_id: string; client_secret?: string };
  let userCount = 0;

  before(async () => {
    // One at a time, so that if one fails the `after` hook still closes the ones already started.
    server = await startTestServer();
    callback = await startCallbackSite();
    chromiumBrowser = await launchChromium();
    // The developer registers the application over HTTP; the browser tests are about the end user.
    const developer = new Browser(server.url);
    await signUp(developer, 'dev@example.com', PASSWORD);
    app = await registerApp(developer, {
      name: APP_NAME,
      redirect_uris: [callback.url],
      scopes: ['read:users', 'write:projects'],
    });
  });

  after(async () => {
    // Browser first: its keep-alive connections would otherwise hold the servers open.
    await chromiumBrowser?.close();
    await Promise.all([server?.dispose(), callback?.close()]);
  });

  /** A fresh end user per test, so no test depends on consent another one left behind. */
  async function newUser(): Promise<string> {
    const email = `user${++userCount}@example.com`;
    await server.built.services.accounts.signUp({ email, password: PASSWORD }, BY_SYSTEM);
    return email;
  }

  const authorizeLink = (state: string) =>
    authorizeUrl(server.url, { clientId: app.client_id, redirectUri: callback.url, scope: SCOPE, state });

  /** Every page the browser GETs, redirects included, so a test can say which pages it never saw. */
  function recordPageLoads(page: Page): string[] {
    const urls: string[] = [];
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.method() === 'GET' && req.frame() === page.mainFrame()) urls.push(req.url());
    });
    return urls;
  }

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await chromiumBrowser.newContext();
    return { context, page: await context.newPage() };
  }

  /** Fills and submits the login form the authorization request led to. */
  async function logIn(page: Page, email: string, password = PASSWORD): Promise<void> {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Waits for the browser to arrive at the client's redirect URI and returns that URL. */
  async function landedOnCallback(page: Page): Promise<URL> {
    await page.waitForURL((url) => url.href.startsWith(callback.url));
    await page.getByText('Callback received').waitFor();
    return new URL(page.url());
  }

  /** Login and consent from scratch in `page`, ending at the callback with a code. */
  async function loginAndApprove(page: Page, email: string, state: string): Promise<URL> {
    await page.goto(authorizeLink(state));
    await logIn(page, email);
    await page.getByRole('button', { name: 'Approve' }).click();
    return landedOnCallback(page);
  }

  it('signs up through the /signup page (check your inbox), signs in, and lands on the dashboard', async () => {
    const { context, page } = await newPage();
    try {
      await page.goto(`${server.url}/signup`);
      await page.getByLabel('Name').fill('Sam Browser');
      await page.getByLabel('Email').fill('sam@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await signInAfterSignUp(page, server.url, 'sam@example.com', PASSWORD);
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      assert.equal(await page.getByTitle('Signed in as sam@example.com').isVisible(), true);
      // The account really exists and the password works.
      assert.ok(await server.built.services.accounts.authenticate('sam@example.com', PASSWORD));
    } finally {
      await context.close();
    }
  });

  it(
    'shows login, then consent with the app, redirect host and scopes; Approve returns a code and the ' + 'state',
    async () => {
      const email = await newUser();
      const { context, page } = await newPage();
      try {
        await page.goto(authorizeLink('state-approve-1'));
        await page.waitForURL(/\/interaction\//);
        await logIn(page, email);

        const approve = page.getByRole('button', { name: 'Approve' });
        await approve.waitFor();
        assert.equal(
          await page.getByRole('heading', { name: `${APP_NAME} wants to access your account` }).isVisible(),
          true,
        );
        assert.equal(await page.getByText(new URL(callback.url).host, { exact: true }).isVisible(), true);
        assert.equal(await page.getByText('Read user information').isVisible(), true);
        assert.equal(await page.getByText('Create/update projects').isVisible(), true);
        assert.equal(await page.getByRole('button', { name: 'Deny' }).isVisible(), true);

        await approve.click();
        const landed = await landedOnCallback(page);
        assert.equal(landed.origin + landed.pathname, callback.url);
        assert.equal(landed.searchParams.get('state'), 'state-approve-1');
        assert.equal(landed.searchParams.get('iss'), server.config.ISSUER);
        const code = landed.searchParams.get('code');
        assert.ok(code, 'callback carries a code');

        // The code is real: the application can exchange it for a token with the approved scopes.
        const res = await fetch(`${server.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            grant_type: 'authorization_code',
            code,
            redirect_uri: callback.url,
            client_id: app.client_id,
            client_secret: app.client_secret,
          }),
        });
        assert.equal(res.status, 200);
        assert.equal(((await res.json()) as { scope: string }).scope, SCOPE);
      } finally {
        await context.close();
      }
    },
  );

  it('the consent page focuses neither button, so Enter does not approve', async () => {
    const email = await newUser();
    const { context, page } = await newPage();
    try {
      await page.goto(authorizeLink('state-enter-1'));
      await logIn(page, email);
      const approve = page.getByRole('button', { name: 'Approve' });
      await approve.waitFor();
      assert.equal(await approve.getAttribute('autofocus'), null);
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        return el ? `${el.tagName} ${el.textContent?.trim() ?? ''}` : 'none';
      });
      assert.doesNotMatch(focused, /^BUTTON/, `focused on load: ${focused}`);

      // Enter, as someone who was typing their password a moment ago would press it: nothing is
      // submitted, the decision stays on the page.
      await page.keyboard.press('Enter');
      await page.waitForTimeout(500);
      assert.match(page.url(), /\/interaction\//);
      assert.equal(await approve.isVisible(), true);
      // The decision is still the person's to make.
      await approve.click();
      const landed = await landedOnCallback(page);
      assert.ok(landed.searchParams.get('code'));
    } finally {
      await context.close();
    }
  });

  it('Deny returns error=access_denied with the state and no code', async () => {
    const email = await newUser();
    const { context, page } = await newPage();
    try {
      await page.goto(authorizeLink('state-deny-1'));
      await logIn(page, email);
      await page.getByRole('button', { name: 'Deny' }).click();
      const landed = await landedOnCallback(page);
      assert.equal(landed.searchParams.get('error'), 'access_denied');
      assert.equal(landed.searchParams.get('state'), 'state-deny-1');
      assert.equal(landed.searchParams.get('code'), null);
    } finally {
      await context.close();
    }
  });

  it('a second authorization in the same browser skips login and consent', async () => {
    const email = await newUser();
    const { context, page } = await newPage();
    try {
      await loginAndApprove(page, email, 'state-first');

      const seen = recordPageLoads(page);
      await page.goto(authorizeLink('state-second'));
      const landed = await landedOnCallback(page);
      assert.ok(landed.searchParams.get('code'));
      assert.equal(landed.searchParams.get('state'), 'state-second');
      assert.deepEqual(
        seen.filter((u) => u.includes('/interaction/')),
        [],
        'no login or consent page on the way',
      );
    } finally {
      await context.close();
    }
  });

  it('remembers consent across browser sessions: a new context logs in again but is not asked to consent', async () => {
    const email = await newUser();
    const first = await newPage();
    try {
      await loginAndApprove(first.page, email, 'state-session-1');
    } finally {
      await first.context.close();
    }

    const { context, page } = await newPage();
    try {
      const seen = recordPageLoads(page);
      await page.goto(authorizeLink('state-session-2'));
      await logIn(page, email);
      const landed = await landedOnCallback(page);
      assert.ok(landed.searchParams.get('code'));
      assert.equal(landed.searchParams.get('state'), 'state-session-2');
      // The login page is the only interaction page shown: consent would be a second GET of /interaction/:uid.
      const interactionPages = seen.filter((u) => new URL(u).pathname.startsWith('/interaction/'));
      assert.equal(interactionPages.length, 1, `interaction pages seen: ${interactionPages.join(', ')}`);
    } finally {
      await context.close();
    }
  });

  it('a wrong password shows "Invalid email or password" on the login page', async () => {
    const email = await newUser();
    const { context, page } = await newPage();
    try {
      await page.goto(authorizeLink('state-wrong-password'));
      await logIn(page, email, 'not the password');
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.equal((await alert.textContent())?.trim(), 'Invalid email or password');
      assert.match(new URL(page.url()).pathname, /^\/interaction\//);
      // Still the login form, with the email kept and no way past it.
      assert.equal(await page.getByLabel('Email').inputValue(), email);
      assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0);
    } finally {
      await context.close();
    }
  });
});
