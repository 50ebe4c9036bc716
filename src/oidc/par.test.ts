import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { TestServer } from '../../test/support/server.ts';
import { Browser, authorizeAt, authorizeUrl } from '../../test/support/http.ts';
import { basicAuth, pkcePair } from '../../test/support/oauth.ts';
import { DpopKey } from '../../test/support/dpop.ts';
import { REDIRECT_URI, startWorld, type TestUser, type World } from '../../test/support/world.ts';

// Pushed authorization requests (RFC 9126) over real HTTP: the client posts its request to
// /oauth/par (authenticated as at the token endpoint) and sends the browser to /oauth/authorize
// with only client_id and the request_uri it got; that request_uri works once, for 60 seconds.

interface App {
  client_id: string;
  client_secret?: string;
}

describe('Pushed authorization requests (PAR)', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let web: App;
  let strict: App;
  let spa: App;
  /** The server's clock runs this far ahead of real time (ms). */
  let skew = 0;

  async function register(body: Record<string, unknown>): Promise<App> {
    const res = await alice.browser.postJson('/oauth/applications', body);
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as App;
  }

  /** Pushes an authorization request for `app` (client_secret_basic for a confidential one). */
  async function push(app: App, params: Record<string, string> = {}, headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/oauth/par`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        ...(app.client_secret ? { Authorization: basicAuth(app as never) } : {}),
        ...headers,
      },
      body: new URLSearchParams({
        // An authorization request's own parameter (RFC 9126 §2.1), whichever way the client authenticates.
        client_id: app.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'read:users',
        state: crypto.randomBytes(8).toString('hex'),
        ...params,
      }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  const byReference = (app: App, requestUri: string) =>
    `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: app.client_id, request_uri: requestUri })}`;

  /**
   * The browser is sent back to the application's one registered redirect URI with
   * invalid_request_uri (RFC 9126 §4), and no code.
   */
  function assertRefusedUri(landedAt: string): void {
    const landed = new URL(landedAt);
    assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT_URI);
    assert.equal(landed.searchParams.get('error'), 'invalid_request_uri');
    assert.equal(landed.searchParams.get('code'), null);
  }

  const signIn = (url: string, browser = new Browser(server.url)) =>
    authorizeAt(browser, url, { email: alice.email, password: alice.password });

  async function exchange(app: App, code: string, extra: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(app as never) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, ...extra }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  before(async () => {
    make = await startWorld({ now: () => Date.now() + skew });
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    const base = { redirect_uris: [REDIRECT_URI], scopes: ['read:users'] };
    web = await register({ name: 'Web', ...base });
    strict = await register({ name: 'Strict', ...base, require_pushed_authorization_requests: true });
    spa = await register({ name: 'SPA', type: 'spa', ...base });
  });
  after(() => server.dispose());

  it('push, then authorize with the request_uri alone: a code for the pushed request', async () => {
    const pushed = await push(web, { state: 'pushed-state' });
    assert.equal(pushed.status, 201, JSON.stringify(pushed.body));
    assert.match(String(pushed.body['request_uri']), /^urn:ietf:params:oauth:request_uri:/);
    assert.equal(pushed.body['expires_in'], 60);
    assert.equal(pushed.headers.get('Cache-Control'), 'no-store');
    const { redirect } = await signIn(byReference(web, String(pushed.body['request_uri'])));
    assert.equal(redirect.searchParams.get('state'), 'pushed-state', 'the pushed parameters were used');
    const code = redirect.searchParams.get('code');
    assert.ok(code, `a code in ${redirect}`);
    const tokens = await exchange(web, code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body['scope'], 'read:users');
  });

  it('a request_uri is single-use: the second authorization with it is refused', async () => {
    const pushed = await push(web);
    const url = byReference(web, String(pushed.body['request_uri']));
    const browser = new Browser(server.url);
    const { redirect } = await signIn(url, browser);
    assert.ok(redirect.searchParams.get('code'));
    const again = await browser.follow(await browser.get(url));
    assertRefusedUri(again.url);
  });

  it('a request_uri expires after 60 seconds', async () => {
    const pushed = await push(web);
    skew += 61_000;
    try {
      const browser = new Browser(server.url);
      const { url } = await browser.follow(await browser.get(byReference(web, String(pushed.body['request_uri']))));
      assertRefusedUri(url);
    } finally {
      skew -= 61_000;
    }
  });

  it('a request_uri pushed by one application is refused for another', async () => {
    const pushed = await push(web);
    const browser = new Browser(server.url);
    const { res, url } = await browser.follow(await browser.get(byReference(spa, String(pushed.body['request_uri']))));
    const landed = new URL(url);
    assert.equal(res.status, 303);
    assert.equal(landed.searchParams.get('error'), 'invalid_request_object');
    assert.equal(landed.searchParams.get('code'), null);
  });

  it('an application that requires PAR gets no code without a request_uri, and one with it', async () => {
    const plain = authorizeUrl(server.url, {
      clientId: strict.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 'plain',
    });
    const browser = new Browser(server.url);
    const { res, url } = await browser.follow(await browser.get(plain));
    const landed = new URL(url);
    assert.equal(res.status, 303);
    assert.equal(landed.searchParams.get('error'), 'invalid_request');
    assert.equal(landed.searchParams.get('error_description'), 'Pushed Authorization Request must be used');
    assert.equal(landed.searchParams.get('code'), null);
    const pushed = await push(strict);
    const { redirect } = await signIn(byReference(strict, String(pushed.body['request_uri'])));
    assert.ok(redirect.searchParams.get('code'));
  });

  it('the authorization endpoint takes the pushed request as a POSTed form too', async () => {
    const pushed = await push(web, { state: 'posted' });
    const browser = new Browser(server.url);
    const posted = await browser.postForm('/oauth/authorize', {
      client_id: web.client_id,
      request_uri: String(pushed.body['request_uri']),
    });
    assert.equal(posted.status, 303);
    const { redirect } = await signIn(new URL(posted.headers.get('location')!, server.url).href, browser);
    assert.equal(redirect.searchParams.get('state'), 'posted');
    assert.ok(redirect.searchParams.get('code'));
  });

  it('client authentication at /oauth/par is as at /oauth/token: JSON 401 for a wrong or missing secret', async () => {
    const wrong = await push({ ...web, client_secret: 'lkcs_wrong' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body['error'], 'invalid_client');
    const viaPost = await fetch(`${server.url}/oauth/par`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: web.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'read:users',
      }),
    });
    assert.equal(viaPost.status, 401);
    assert.match(viaPost.headers.get('Content-Type') ?? '', /application\/json/);
    assert.equal(((await viaPost.json()) as { error: string }).error, 'invalid_client');
    const unknown = await push({ client_id: 'app_nobody', client_secret: 'lkcs_x' });
    assert.equal(unknown.status, 401);
  });

  it('a public client pushes with PKCE and no secret; JSON bodies are taken as at the token endpoint', async () => {
    const pkce = pkcePair();
    const res = await fetch(`${server.url}/oauth/par`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_id: spa.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'read:users',
        code_challenge: pkce.challenge,
        code_challenge_method: 'S256',
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 201, JSON.stringify(body));
    const { redirect } = await signIn(byReference(spa, String(body['request_uri'])));
    const token = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: spa.client_id,
        code: redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT_URI,
        code_verifier: pkce.verifier,
      }),
    });
    assert.equal(token.status, 200);
  });

  it('a DPoP proof at /oauth/par binds the code to that key (dpop_jkt): only that key redeems it', async () => {
    const parUrl = `${server.url}/oauth/par`;
    const tokenUrl = `${server.url}/oauth/token`;
    const basic = { Authorization: basicAuth(web as never) };
    const codeFor = async (key: DpopKey) => {
      const form = { client_id: web.client_id, response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'read:users' };
      const pushed = await key.post(parUrl, form, basic);
      const body = (await pushed.json()) as Record<string, unknown>;
      assert.equal(pushed.status, 201, JSON.stringify(body));
      const { redirect } = await signIn(byReference(web, String(body['request_uri'])));
      return { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT_URI };
    };
    const key = await DpopKey.create();
    const res = await key.post(tokenUrl, await codeFor(key), basic);
    const tokens = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.equal(tokens['token_type'], 'DPoP');
    const stolen = await (await DpopKey.create()).post(tokenUrl, await codeFor(key), basic);
    assert.equal(stolen.status, 400);
    assert.equal(((await stolen.json()) as { error: string }).error, 'invalid_grant');
  });
});
