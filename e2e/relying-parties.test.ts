import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import type { Browser as Chromium, Page } from 'playwright-core';
import { startCallbackSite } from './loopback-site.ts';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, signUp } from '../test/support/http.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// Two real relying-party libraries, used as their READMEs show, against the real server: discovery,
// the authorization code flow (with PKCE, and without it for a web application that turned
// require_pkce off), the library's own ID token validation, userinfo and refresh. A person signs in
// and approves in Chromium; the redirect URI is a tiny loopback server, so the browser really lands
// where the library expects and the test hands that URL to the library.
//
// The server runs on http://127.0.0.1 (no TLS in tests): openid-client is told
// `allowInsecureRequests` and oauth4webapi `[allowInsecureRequests]: true`, the one concession.
// Each journey ends with RP-initiated logout: the library's end-session URL, Latchkey's "Sign out?"
// page, and back to the application's registered post-logout URI with its state.

const PASSWORD = 'correct horse battery';
const SCOPE = 'openid email profile';

interface App {
  client_id: string;
  client_secret: string;
}

describe('Real relying parties: openid-client and oauth4webapi', { timeout: 180_000, concurrency: true }, () => {
  let server: TestServer;
  let callback: { url: string; close(): Promise<void> };
  let chromium: Chromium;
  let developer: Browser;
  let users = 0;

  before(async () => {
    server = await startTestServer();
    callback = await startCallbackSite();
    chromium = await launchChromium();
    developer = new Browser(server.url);
    await signUp(developer, 'dev@example.com', PASSWORD);
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), callback?.close()]);
  });

  async function registerWebApp(requirePkce: boolean): Promise<App> {
    const res = await developer.postJson('/oauth/applications', {
      name: `Relying party ${requirePkce ? 'with' : 'without'} PKCE`,
      redirect_uris: [callback.url],
      post_logout_redirect_uris: [signedOutUrl()],
      scopes: ['read:users'],
      require_pkce: requirePkce,
    });
    assert.equal(res.status, 201);
    return (await res.json()) as App;
  }

  async function newPerson(): Promise<{ email: string; name: string; id: string }> {
    const email = `person${++users}@example.com`;
    const name = `Person ${users}`;
    await server.built.services.accounts.signUp({ email, password: PASSWORD, name } as never, BY_SYSTEM);
    const account = await server.built.services.accounts.authenticate(email, PASSWORD);
    return { email, name, id: (account as { id: string }).id };
  }

  /** Where the applications ask Latchkey to send the browser after signing out. */
  const signedOutUrl = () => new URL('/signed-out', callback.url).href;

  interface SignedIn {
    /** Where the browser landed: the redirect URI with the code. */
    landed: URL;
    /** The person's browser tab, still signed in to Latchkey. */
    page: Page;
    close(): Promise<void>;
  }

  /** A person follows the library's authorization URL, signs in, approves; returns where they land. */
  async function signInInChromium(authorizationUrl: URL, email: string): Promise<SignedIn> {
    const context = await chromium.newContext();
    const page: Page = await context.newPage();
    await page.goto(authorizationUrl.href);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.href.startsWith(callback.url));
    await page.getByText('Callback received').waitFor();
    return { landed: new URL(page.url()), page, close: () => context.close() };
  }

  /**
   * The application sends the browser to the end-session URL its library built; the person
   * confirms on Latchkey's page and lands on the post-logout URI, signed out of Latchkey (the
   * dashboard too). Returns the `state` the application got back.
   */
  async function signOutInChromium(page: Page, endSessionUrl: URL): Promise<string | null> {
    await page.goto(endSessionUrl.href);
    await page.getByRole('heading', { name: 'Sign out of Latchkey?' }).waitFor();
    await page.locator('button[name="logout"][value="yes"]').click();
    await page.waitForURL((url) => url.href.startsWith(signedOutUrl()));
    const back = new URL(page.url());
    await page.goto(`${server.url}/dashboard`);
    assert.equal(new URL(page.url()).pathname, '/login', 'signed out of the dashboard too');
    return back.searchParams.get('state');
  }

  for (const pkce of [true, false]) {
    const flow = pkce ? 'with PKCE' : 'without PKCE (require_pkce off)';
    it(`openid-client: discovery, code flow ${flow}, userinfo, refresh`, async () => {
      const app = await registerWebApp(pkce);
      const person = await newPerson();
      const config = await client.discovery(
        new URL(server.config.ISSUER),
        app.client_id,
        app.client_secret,
        undefined,
        {
          execute: [client.allowInsecureRequests],
        },
      );
      assert.equal(config.serverMetadata().issuer, server.config.ISSUER);

      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const parameters: Record<string, string> = { redirect_uri: callback.url, scope: SCOPE, state, nonce };
      if (pkce) {
        parameters['code_challenge'] = await client.calculatePKCECodeChallenge(codeVerifier);
        parameters['code_challenge_method'] = 'S256';
      }
      const browser = await signInInChromium(client.buildAuthorizationUrl(config, parameters), person.email);
      const { landed } = browser;

      const tokens = await client.authorizationCodeGrant(config, landed, {
        ...(pkce ? { pkceCodeVerifier: codeVerifier } : {}),
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, person.id);
      assert.equal(claims.email, person.email);

      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, person.email);
      assert.equal(info.name, person.name);

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
      if (refreshed.id_token) assert.equal(refreshed.claims()!.sub, person.id);
      const again = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
      assert.equal(again.sub, person.id);

      const logoutState = client.randomState();
      const endSession = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: signedOutUrl(),
        state: logoutState,
      });
      assert.equal(await signOutInChromium(browser.page, endSession), logoutState);
      await browser.close();
    });

    const rpFlow = pkce ? flow : 'without PKCE (oauth.nopkce)';
    it(`oauth4webapi: discovery, code flow ${rpFlow}, userinfo, refresh`, async () => {
      const app = await registerWebApp(pkce);
      const person = await newPerson();
      const insecure = { [oauth.allowInsecureRequests]: true };
      const issuer = new URL(server.config.ISSUER);
      const as = await oauth
        .discoveryRequest(issuer, { algorithm: 'oidc', ...insecure })
        .then((response) => oauth.processDiscoveryResponse(issuer, response));
      const rp: oauth.Client = { client_id: app.client_id };
      const clientAuth = oauth.ClientSecretBasic(app.client_secret);

      const codeVerifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const authorizationUrl = new URL(as.authorization_endpoint!);
      authorizationUrl.searchParams.set('client_id', rp.client_id);
      authorizationUrl.searchParams.set('redirect_uri', callback.url);
      authorizationUrl.searchParams.set('response_type', 'code');
      authorizationUrl.searchParams.set('scope', SCOPE);
      authorizationUrl.searchParams.set('state', state);
      authorizationUrl.searchParams.set('nonce', nonce);
      if (pkce) {
        authorizationUrl.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
        authorizationUrl.searchParams.set('code_challenge_method', 'S256');
      }
      const browser = await signInInChromium(authorizationUrl, person.email);
      const { landed } = browser;

      const params = oauth.validateAuthResponse(as, rp, landed, state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        rp,
        clientAuth,
        params,
        callback.url,
        pkce ? codeVerifier : oauth.nopkce,
        insecure,
      );
      const result = await oauth.processAuthorizationCodeResponse(as, rp, response, {
        expectedNonce: nonce,
        requireIdToken: true,
      });
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      assert.equal(claims.sub, person.id);

      const userinfo = await oauth.processUserInfoResponse(
        as,
        rp,
        claims.sub,
        await oauth.userInfoRequest(as, rp, result.access_token, insecure),
      );
      assert.equal(userinfo['email'], person.email);

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        rp,
        await oauth.refreshTokenGrantRequest(as, rp, clientAuth, result.refresh_token!, insecure),
      );
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.refresh_token, result.refresh_token, 'refresh tokens rotate');

      // oauth4webapi leaves the end-session URL to the application: built from discovery.
      const logoutState = oauth.generateRandomState();
      const endSession = new URL(as.end_session_endpoint!);
      endSession.searchParams.set('id_token_hint', result.id_token!);
      endSession.searchParams.set('post_logout_redirect_uri', signedOutUrl());
      endSession.searchParams.set('state', logoutState);
      assert.equal(await signOutInChromium(browser.page, endSession), logoutState);
      await browser.close();
    });
  }
});
