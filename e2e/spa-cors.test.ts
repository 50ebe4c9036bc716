import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startLoopbackSite, type LoopbackSite } from './loopback-site.ts';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, signUp } from '../test/support/http.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// A single-page application as a browser runs it: a page on its own loopback origin does the
// authorization code flow with PKCE, redeems the code at /oauth/token with fetch, and calls
// /v2/auth/test with the access token, all cross-origin, under Chromium's CORS rules. The same
// call from a page on an origin no application has is blocked by the browser, until the
// application lists that origin in allowed_origins.

const PASSWORD = 'correct horse battery';

/**
 * The SPA: at `/` it starts the flow (PKCE verifier in sessionStorage); at `/callback` it redeems
 * the code and calls the API, writing what happened into #result. Any other path is a blank page
 * of the same origin, for the test to run fetches from.
 */
function spaSite(issuer: string, clientId: () => string): http.RequestListener {
  const script = `
    const issuer = ${JSON.stringify(issuer)};
    const clientId = ${JSON.stringify('CLIENT_ID')};
    const redirectUri = location.origin + '/callback';
    const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
      .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    const show = (text) => { document.getElementById('result').textContent = text; };
    async function start() {
      const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
      sessionStorage.setItem('verifier', verifier);
      const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      const url = new URL(issuer + '/oauth/authorize');
      url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
        scope: 'read:users', state: 'spa-state', code_challenge: challenge, code_challenge_method: 'S256' });
      location.assign(url.href);
    }
    async function finish() {
      const code = new URLSearchParams(location.search).get('code');
      const tokenRes = await fetch(issuer + '/oauth/token', { method: 'POST', body: new URLSearchParams({
        grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: redirectUri,
        code_verifier: sessionStorage.getItem('verifier') }) });
      const tokens = await tokenRes.json();
      window.accessToken = tokens.access_token;
      const headers = { Authorization: 'Bearer ' + tokens.access_token };
      const api = await fetch(issuer + '/v2/auth/test', { headers });
      show(JSON.stringify({ status: api.status, version: api.headers.get('X-API-Version'), body: await api.json() }));
    }
    (location.pathname === '/callback' ? finish() : start()).catch((err) => show('failed: ' + err.message));
  `;
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    if (req.url === '/' || req.url?.startsWith('/callback')) {
      const body = script.replace(JSON.stringify('CLIENT_ID'), JSON.stringify(clientId()));
      res.end(`<!doctype html><title>SPA</title><pre id="result"></pre><script type="module">${body}</script>`);
    } else {
      res.end('<!doctype html><title>Blank</title><p>Blank page</p>');
    }
  };
}

describe('A single-page application calls /v2 from its own origin (CORS)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;
  let developer: Browser;
  let spa: LoopbackSite;
  let elsewhere: LoopbackSite;
  let clientId = '';
  let accessToken = '';
  const email = 'spa-person@example.com';

  before(async () => {
    server = await startTestServer();
    chromium = await launchChromium();
    spa = await startLoopbackSite(spaSite(server.url, () => clientId));
    elsewhere = await startLoopbackSite(spaSite(server.url, () => clientId));
    developer = new Browser(server.url);
    await signUp(developer, 'spa-dev@example.com', PASSWORD);
    const res = await developer.postJson('/oauth/applications', {
      name: 'Browser app',
      type: 'spa',
      redirect_uris: [`${spa.origin}/callback`],
      scopes: ['read:users'],
    });
    const registered = await res.text();
    assert.equal(res.status, 201, registered);
    clientId = (JSON.parse(registered) as { client_id: string }).client_id;
    await server.built.services.accounts.signUp({ email, password: PASSWORD } as never, BY_SYSTEM);
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), spa?.close(), elsewhere?.close()]);
  });

  /** A fetch of /v2/auth/test with the token, run by a page of `origin`; what the page saw. */
  async function callFrom(page: Page, origin: string): Promise<{ ok: boolean; text: string; console: string[] }> {
    const messages: string[] = [];
    page.on('console', (m) => messages.push(m.text()));
    await page.goto(`${origin}/blank`);
    const outcome = await page.evaluate(
      async ({ url, token }) => {
        try {
          const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
          return { ok: true, text: `${res.status} ${await res.text()}` };
        } catch (err) {
          return { ok: false, text: String(err) };
        }
      },
      { url: `${server.url}/v2/auth/test`, token: accessToken },
    );
    return { ...outcome, console: messages };
  }

  it('signs in with code + PKCE, redeems the code and calls /v2/auth/test with fetch', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    await page.goto(`${spa.origin}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${spa.origin}/callback`));
    const result = page.locator('#result');
    await result.filter({ hasText: /\S/ }).waitFor();
    const text = (await result.textContent()) ?? '';
    assert.doesNotMatch(text, /^failed/, text);
    const seen = JSON.parse(text) as { status: number; version: string; body: { valid: boolean; scopes: string[] } };
    assert.equal(seen.status, 200);
    // Exposed to the page: X-API-Version is not a CORS-safelisted header.
    assert.equal(seen.version, '2.0');
    assert.equal(seen.body.valid, true);
    assert.deepEqual(seen.body.scopes, ['read:users']);
    accessToken = (await page.evaluate(() => (window as unknown as { accessToken: string }).accessToken)) ?? '';
    assert.ok(accessToken);

    // The same origin, again, with the token it holds: the page reads the answer.
    const again = await callFrom(page, spa.origin);
    assert.equal(again.ok, true, again.text);
    assert.match(again.text, /^200 /);
    await context.close();
  });

  it('a page on an origin no application has is blocked by CORS, until the application allows it', async () => {
    assert.ok(accessToken, 'the first journey got a token');
    const context = await chromium.newContext();
    const page = await context.newPage();
    const blocked = await callFrom(page, elsewhere.origin);
    assert.equal(blocked.ok, false, blocked.text);
    assert.match(blocked.text, /Failed to fetch/);
    assert.ok(
      blocked.console.some((m) => m.includes('blocked by CORS policy')),
      `console said: ${blocked.console.join(' | ')}`,
    );

    const patched = await developer.request(`/oauth/applications/${clientId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ allowed_origins: [elsewhere.origin] }),
    });
    assert.equal(patched.status, 200, await patched.text());
    const allowed = await callFrom(page, elsewhere.origin);
    assert.equal(allowed.ok, true, allowed.text);
    assert.match(allowed.text, /^200 /);
    await context.close();
  });
});
