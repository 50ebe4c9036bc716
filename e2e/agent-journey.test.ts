import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import type { Browser as Chromium } from 'playwright-core';
import { startCallbackSite } from './loopback-site.ts';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, signUp } from '../test/support/http.ts';

// An agent that knows only an API's URL, end to end, with one unmodified library (oauth4webapi,
// strict processors): the API's 401 points at its protected resource metadata (RFC 9728), that
// names the authorization server, whose metadata (RFC 8414) gives the registration endpoint; the
// agent registers itself (RFC 7591, no human), a person signs in and approves in Chromium
// (authorization code + PKCE + `resource`, RFC 8707), the agent gets a DPoP-bound token (RFC 9449)
// for that API and calls it. The same token is no good to another API, nor without its proof.
// The one concession, as in the other journeys: the server is plain http on loopback.

const PASSWORD = 'correct horse battery';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('An agent discovers, registers and calls an API on its own', { timeout: 180_000 }, () => {
  let server: TestServer;
  let callback: { url: string; close(): Promise<void> };
  let chromium: Chromium;
  let owner: Browser;

  before(async () => {
    server = await startTestServer({ env: { DYNAMIC_REGISTRATION: 'open' } });
    callback = await startCallbackSite();
    chromium = await launchChromium();
    owner = new Browser(server.url);
    await signUp(owner, 'owner@example.com', PASSWORD);
  });

  after(async () => {
    await chromium?.close();
    await Promise.all([server?.dispose(), callback?.close()]);
  });

  /** The person approves in a real browser; returns where the browser landed (the callback). */
  async function personApproves(authorizationUrl: URL): Promise<URL> {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(authorizationUrl.href);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByLabel('Email').fill('owner@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // Nobody reviewed the agent: the person is told before approving.
      await page.getByText('has not been reviewed').waitFor();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL((url) => url.href.startsWith(callback.url));
      return new URL(page.url());
    } finally {
      await context.close();
    }
  }

  /** Runs a DPoP request once more with the server's nonce when it asks for one (RFC 9449 §8). */
  async function withNonceRetry<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (err) {
      if (!oauth.isDPoPNonceError(err)) throw err;
      return attempt();
    }
  }

  it('from a 401 to a DPoP-bound, audience-bound token that works only where it should', async () => {
    const api = new URL('/v2/auth/test', server.url);

    // 1. The API says where to learn about it.
    const unauthenticated = await fetch(api);
    assert.equal(unauthenticated.status, 401);
    const challenge = unauthenticated.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.ok(metadataUrl, `a resource_metadata link in ${challenge}`);

    // 2. Protected resource metadata: which API this is and who issues its tokens.
    const resource = new URL(server.config.API_RESOURCE);
    const resourceRequest = await oauth.resourceDiscoveryRequest(resource, insecure);
    assert.equal(resourceRequest.url, metadataUrl, 'the 401 links the document RFC 9728 derives');
    const resourceMetadata = await oauth.processResourceDiscoveryResponse(resource, resourceRequest);
    const issuer = new URL(resourceMetadata.authorization_servers![0]!);

    // 3. Authorization server metadata, then register (no initial access token: open mode).
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    );
    assert.ok(as.registration_endpoint && as.dpop_signing_alg_values_supported?.includes('ES256'));
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: 'Orders agent',
          redirect_uris: [callback.url],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          scope: 'read:users',
        },
        insecure,
      ),
    );
    const client: oauth.Client = { client_id: registered.client_id };

    // 4. A person approves in the browser: code + PKCE + resource.
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    for (const [k, v] of Object.entries({
      client_id: client.client_id,
      redirect_uri: callback.url,
      response_type: 'code',
      scope: 'read:users',
      resource: resource.href,
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })) {
      authorizationUrl.searchParams.set(k, v);
    }
    const landed = await personApproves(authorizationUrl);
    const params = oauth.validateAuthResponse(as, client, landed, state);

    // 5. A DPoP-bound token for that API.
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const tokens = await withNonceRetry(async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, callback.url, verifier, {
          DPoP,
          additionalParameters: { resource: resource.href },
          ...insecure,
        }),
      ),
    );
    assert.equal(tokens.token_type, 'dpop');

    // 6. The call succeeds with the proof (the API asks for no nonce) ...
    const call = await oauth.protectedResourceRequest(tokens.access_token, 'GET', api, new Headers(), null, {
      DPoP,
      ...insecure,
    });
    assert.equal(call.status, 200);

    // ... and fails without it, or at another API.
    const bearer = await fetch(api, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(bearer.status, 401, 'a DPoP-bound token is not a bearer token');
    const orders = await owner.postJson('/v2/apis', {
      name: 'Orders',
      identifier: 'https://orders.example.com',
      scopes: [{ name: 'read:orders', description: 'Read orders' }],
    });
    assert.equal(orders.status, 201);
    const ordersServer = await owner.postJson('/oauth/applications', {
      name: 'Orders API',
      type: 'resource_server',
      api: 'https://orders.example.com',
      scopes: [],
    });
    assert.equal(ordersServer.status, 201);
    const rs = (await ordersServer.json()) as { client_id: string; client_secret: string };
    const introspected = await fetch(new URL('/oauth/introspect', server.url), {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${rs.client_id}:${rs.client_secret}`).toString('base64')}`,
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: tokens.access_token }),
    });
    assert.equal(introspected.status, 200);
    assert.deepEqual(await introspected.json(), { active: false }, 'the orders API learns nothing of it');
  });
});
