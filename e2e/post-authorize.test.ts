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

// Authorization requests POSTed from another site, in Chromium: the relying party's page on
// `localhost` submits a form to the server on `127.0.0.1` (another site: SameSite counts the host,
// and an IP address is a site of its own), so the browser sends no Lax cookie with that POST. The
// server answers it with a 303 to the same request by GET (src/oidc/authorize-post.ts), on which
// Lax cookies are sent: the signed-in person is recognised, prompt=none answers with no page.
// Also the "Continue as" page of prompt=select_account.

const PASSWORD = 'correct horse battery';

/** The relying party: a page that POSTs the authorization request it is given, and its callback. */
async function startRelyingParty(serverUrl: string) {
  let params: Record<string, string> = {};
  const site = await startLoopbackSite((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    if (req.url?.startsWith('/start')) {
      const fields = Object.entries(params)
        .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
        .join('');
      return res.end(
        `<!doctype html><title>RP</title><form id="f" method="post" action="${serverUrl}/oauth/authorize">` +
          `${fields}<button>Sign in</button></form><script>document.getElementById('f').submit()</script>`,
      );
    }
    res.end('<!doctype html><title>RP</title><p>Callback received</p>');
  }, 'localhost');
  const { origin } = site;
  return {
    origin,
    post: (p: Record<string, string>) => {
      params = p;
    },
    close: site.close,
  };
}

describe('authorization requests POSTed from another site, in Chromium', { timeout: 120_000 }, () => {
  let server: TestServer;
  let rp: Awaited<ReturnType<typeof startRelyingParty>>;
  let chromium: Chromium;
  let app: { client_id: string };
  const alice = 'alice@example.com';

  before(async () => {
    server = await startTestServer();
    rp = await startRelyingParty(server.url);
    chromium = await launchChromium();
    const accounts = server.built.services.accounts;
    await accounts.signUp({ email: 'dev@example.com', password: PASSWORD, name: 'Dev' }, BY_SYSTEM);
    await accounts.signUp({ email: alice, password: PASSWORD, name: 'Alice' }, BY_SYSTEM);
    const developer = new Browser(server.url);
    await logInOverHttp(developer, { email: 'dev@example.com', password: PASSWORD });
    const res = await request(developer, 'POST', '/oauth/applications', {
      body: { name: 'Cross Site', redirect_uris: [`${rp.origin}/callback`], scopes: ['read:users'] },
    });
    assert.equal(res.status, 201, await res.text());
    app = res.body as { client_id: string };
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), rp?.close()]);
  });

  const requestFields = (state: string, extra: Record<string, string> = {}) => ({
    client_id: app.client_id,
    redirect_uri: `${rp.origin}/callback`,
    response_type: 'code',
    scope: 'openid',
    state,
    ...extra,
  });

  /** The RP's page posts the request; resolves with the first URL back at the RP's callback. */
  async function postFromRelyingParty(page: Page, fields: Record<string, string>): Promise<URL> {
    rp.post(fields);
    await page.goto(`${rp.origin}/start`);
    await page.waitForURL(/\/callback\?/);
    return new URL(page.url());
  }

  it('a signed-in person is recognised, prompt=none answers a code, and select_account asks', async () => {
    const context = await chromium.newContext();
    const page = await context.newPage();
    const pages: string[] = [];
    /** The cookies the browser sent with each request to /oauth/authorize, by method. */
    const authorizeCookies: { method: string; cookie: string }[] = [];
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) pages.push(req.url());
      if (req.url().startsWith(`${server.url}/oauth/authorize`)) {
        void req.allHeaders().then((h) => authorizeCookies.push({ method: req.method(), cookie: h['cookie'] ?? '' }));
      }
    });
    try {
      await page.goto(`${server.url}/login`);
      await page.getByLabel('Email').fill(alice);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${server.url}/dashboard`);

      // The first request: consent, and no sign-in form (the dashboard session was recognised).
      pages.length = 0;
      rp.post(requestFields('post-1'));
      await page.goto(`${rp.origin}/start`);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(/\/callback\?/);
      const first = new URL(page.url());
      assert.equal(first.searchParams.get('state'), 'post-1');
      assert.ok(first.searchParams.get('code'), `a code in ${first}`);
      assert.ok(!pages.some((u) => u.includes('/login')), 'no sign-in form on the way');
      // The premise: the cross-site POST carried no Lax cookie; the GET it was answered with did.
      const post = authorizeCookies.find((r) => r.method === 'POST');
      const get = authorizeCookies.find((r) => r.method === 'GET');
      assert.ok(post && !post.cookie.includes('lk_session'), `POST cookies: ${post?.cookie}`);
      assert.ok(get?.cookie.includes('lk_session'), `GET cookies: ${get?.cookie}`);

      // prompt=none, POSTed cross-site: a code, no page.
      pages.length = 0;
      const silent = await postFromRelyingParty(page, requestFields('post-2', { prompt: 'none' }));
      assert.equal(silent.searchParams.get('error'), null, `${silent}`);
      assert.ok(silent.searchParams.get('code'));
      assert.ok(!pages.some((u) => u.includes('/interaction/')), 'no page on the way');

      // prompt=select_account: "Continue as".
      await page.goto(
        authorizeUrl(server.url, {
          clientId: app.client_id,
          redirectUri: `${rp.origin}/callback`,
          scope: 'openid',
          state: 'select-1',
          extra: { prompt: 'select_account' },
        }),
      );
      await page.getByRole('heading', { name: 'Continue to Cross Site' }).waitFor();
      await screenshotBoth(page, 'select-account');
      await assertAccessible(page, 'select account');
      await page.getByRole('button', { name: `Continue as ${alice}` }).click();
      await page.waitForURL(/\/callback\?/);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'select-1');
      assert.ok(new URL(page.url()).searchParams.get('code'));
    } finally {
      await context.close();
    }
  });
});
