import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startLoopbackSite } from './loopback-site.ts';
import { launchChromium, screenshotBoth } from './chromium.ts';
import { assertAccessible } from './axe.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, authorizeUrl } from '../test/support/http.ts';
import { logIn as logInOverHttp } from '../test/support/oauth.ts';
import { request } from '../test/support/world.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// One sign-in for the dashboard and applications, and the consent page's details, in Chromium:
// sign in on /login, an application's authorization request goes straight to consent (showing the
// application's logo, owner and links), "Not you? Switch account" lets someone else sign in and
// continue the same request.

const PASSWORD = 'correct horse battery';

/**
 * The application's side, on loopback (http is allowed there for links and the redirect URI): its
 * callback, a logo, and the pages the consent page links to. It records whether the logo was
 * fetched with a Referer.
 */
async function startApplicationSite() {
  const logoRequests: { referer: string | undefined }[] = [];
  const site = await startLoopbackSite((req, res) => {
    if (req.url === '/logo.svg') {
      logoRequests.push({ referer: req.headers.referer });
      res.writeHead(200, { 'content-type': 'image/svg+xml' });
      return res.end(
        '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><rect width="48" height="48" rx="10" ' +
          'fill="#0f766e"/><text x="24" y="31" font-size="20" text-anchor="middle" fill="#fff">AR</text></svg>',
      );
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Acme</title><p>Callback received</p>');
  });
  const { origin } = site;
  return {
    origin,
    logoRequests,
    close: site.close,
  };
}

describe('one sign-in and the consent page in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let site: Awaited<ReturnType<typeof startApplicationSite>>;
  let chromium: Chromium;
  let app: { client_id: string };
  const alice = 'alice@example.com';
  const bruno = 'bruno@example.com';

  before(async () => {
    server = await startTestServer();
    site = await startApplicationSite();
    chromium = await launchChromium();
    const accounts = server.built.services.accounts;
    await accounts.signUp({ email: 'ada@acme.example', password: PASSWORD, name: 'Ada Lovelace' }, BY_SYSTEM);
    await accounts.signUp({ email: alice, password: PASSWORD, name: 'Alice' }, BY_SYSTEM);
    await accounts.signUp({ email: bruno, password: PASSWORD }, BY_SYSTEM);
    const developer = new Browser(server.url);
    await logInOverHttp(developer, { email: 'ada@acme.example', password: PASSWORD });
    const res = await request(developer, 'POST', '/oauth/applications', {
      body: {
        name: 'Acme Reports',
        redirect_uris: [`${site.origin}/callback`],
        scopes: ['read:users', 'write:projects'],
        logo_uri: `${site.origin}/logo.svg`,
        client_uri: `${site.origin}/`,
        policy_uri: `${site.origin}/privacy`,
        tos_uri: `${site.origin}/terms`,
      },
    });
    assert.equal(res.status, 201, await res.text());
    app = res.body as { client_id: string };
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), site?.close()]);
  });

  const authorizeLink = (state: string) =>
    authorizeUrl(server.url, {
      clientId: app.client_id,
      redirectUri: `${site.origin}/callback`,
      scope: 'read:users write:projects',
      state,
    });

  async function signIn(page: Page, email: string): Promise<void> {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('signs in once for both, shows who the application is, and switches account mid-request', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const loads: string[] = [];
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) loads.push(req.url());
    });
    try {
      // Signed in on /login.
      await page.goto(`${server.url}/login`);
      await screenshotBoth(page, 'one-sign-in-login');
      await assertAccessible(page, '/login');
      await signIn(page, alice);
      await page.waitForURL(`${server.url}/dashboard`);

      // The application's request: straight to consent, no second sign-in form.
      loads.length = 0;
      await page.goto(authorizeLink('state-1'));
      await page.getByRole('heading', { name: /Acme Reports wants to access your account/ }).waitFor();
      assert.ok(!loads.some((u) => u.includes('/login')), 'no sign-in page on the way');
      await page.getByText(`Signed in as ${alice}.`).waitFor();
      await page.getByText('Registered by Ada Lovelace').waitFor();
      for (const name of [/^Homepage/, 'Privacy policy', 'Terms of service']) {
        const link = page.getByRole('link', { name });
        assert.equal(await link.getAttribute('target'), '_blank');
        assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
      }
      const logo = page.locator('img.app-logo');
      await logo.waitFor();
      await page.waitForFunction(() => (document.querySelector('img.app-logo') as HTMLImageElement).complete);
      assert.ok(
        await logo.evaluate((img: HTMLImageElement) => img.naturalWidth > 0),
        'the logo loads: the page allows its origin',
      );
      assert.deepEqual(site.logoRequests.at(-1), { referer: undefined }, 'fetched with no Referer');
      const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
      assert.notEqual(focused, 'Approve', 'Approve is not focused: Enter does not approve');
      await screenshotBoth(page, 'one-sign-in-consent');
      await assertAccessible(page, 'consent (with logo and links)');

      // Not you? Switch account: signed out, the same request asks who is signing in.
      await page.getByRole('button', { name: 'Switch account' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.match(page.url(), /\/interaction\//, 'the sign-in of the authorization request');
      await page.getByText('You are signed out. Sign in as the person who should continue.').waitFor();
      await screenshotBoth(page, 'one-sign-in-switched');
      await assertAccessible(page, 'interaction sign-in after switching');
      await signIn(page, bruno);
      await page.getByText(`Signed in as ${bruno}.`).waitFor();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${site.origin}/callback`));
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get('state'), 'state-1', 'the same request, continued');
      assert.ok(landed.searchParams.get('code'));

      // And the dashboard is Bruno's now too.
      await page.goto(`${server.url}/dashboard`);
      await page.getByText(bruno).first().waitFor();
    } finally {
      await context.close();
    }
  });
});
