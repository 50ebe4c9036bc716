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

// Signing out in Chromium: a person signed in to an application (OpenID Connect) signs out there,
// the application sends them to /oauth/logout, Latchkey asks "Sign out of Latchkey?", and "Sign
// out" ends the sign-in everywhere, returns them to the application with its state and tells the
// application's back-channel endpoint.

const PASSWORD = 'correct horse battery';

/** The application's side on loopback: its callback, its signed-out page, its back-channel endpoint. */
async function startApplicationSite() {
  const logoutTokens: string[] = [];
  const site = await startLoopbackSite((req, res) => {
    if (req.method === 'POST' && req.url === '/backchannel') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Acme</title><main><h1>Acme</h1></main></html>');
  });
  const { origin } = site;
  return {
    origin,
    logoutTokens,
    close: site.close,
  };
}

describe('logout in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let site: Awaited<ReturnType<typeof startApplicationSite>>;
  let chromium: Chromium;
  let app: { client_id: string; client_secret: string };
  const alice = 'alice@example.com';
  const bruno = 'bruno@example.com';

  before(async () => {
    // The application's back-channel endpoint is on loopback.
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' } });
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
        scopes: ['read:users'],
        post_logout_redirect_uris: [`${site.origin}/signed-out`],
        backchannel_logout_uri: `${site.origin}/backchannel`,
      },
    });
    assert.equal(res.status, 201, await res.text());
    app = res.body as typeof app;
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), site?.close()]);
  });

  /** Signs in to the application through Chromium and exchanges the code: the ID token. */
  async function signInToApplication(page: Page, email: string): Promise<string> {
    await page.goto(
      authorizeUrl(server.url, {
        clientId: app.client_id,
        redirectUri: `${site.origin}/callback`,
        scope: 'openid read:users',
        state: 'in',
      }),
    );
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${site.origin}/callback`));
    const code = new URL(page.url()).searchParams.get('code')!;
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${site.origin}/callback`,
        client_id: app.client_id,
        client_secret: app.client_secret,
      }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { id_token: string }).id_token;
  }

  it('confirms, signs out everywhere, returns to the application and tells it', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      const idToken = await signInToApplication(page, alice);
      const logout = new URL(`${server.url}/oauth/logout`);
      logout.searchParams.set('id_token_hint', idToken);
      logout.searchParams.set('post_logout_redirect_uri', `${site.origin}/signed-out`);
      logout.searchParams.set('state', 'bye-1');
      await page.goto(logout.toString());
      await page.getByRole('heading', { name: 'Sign out of Latchkey?' }).waitFor();
      await page.getByText(`You are signed in as ${alice}.`).waitFor();
      await screenshotBoth(page, 'logout-confirm');
      await assertAccessible(page, 'logout confirmation');

      await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
      await page.waitForURL((url) => url.href.startsWith(`${site.origin}/signed-out`));
      assert.equal(new URL(page.url()).searchParams.get('state'), 'bye-1');
      assert.equal(site.logoutTokens.length, 1, 'the back-channel endpoint was told');

      // The dashboard session ended with it.
      await page.goto(`${server.url}/dashboard`);
      await page.waitForURL((url) => url.pathname === '/login');
    } finally {
      await context.close();
    }
  });

  it('without a return address, ends on "You are signed out"', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    try {
      await signInToApplication(page, bruno);
      await page.goto(`${server.url}/oauth/logout?client_id=${app.client_id}`);
      await page.getByRole('button', { name: 'Sign out', exact: true }).last().click();
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor();
      await screenshotBoth(page, 'logout-done');
      await assertAccessible(page, 'signed out');
    } finally {
      await context.close();
    }
  });
});
