import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { Browser, csrfFrom, formAction, registerApp } from '../../../test/support/http.ts';
import { introspect } from '../../../test/support/oauth.ts';
import { startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../../../test/support/world.ts';

// Unmodified relying-party libraries with resource indicators: oauth4webapi (strict) starts from a
// 401 of /v2, follows its resource_metadata (RFC 9728) to the authorization server and gets a
// token for /v2 with `resource`; openid-client v6 sends `resource` at authorize and at the token
// endpoint for a registered API. The person signs in and consents over HTTP (the real pages). The
// only concession: plain http on loopback (`allowInsecureRequests`).

const REDIRECT = 'https://client.example/callback';

describe('resource indicators with real clients', () => {
  let world: TestWorld;
  let owner: TestUser;
  let person: TestUser;
  let app: RegisteredApp;
  let ordersServer: RegisteredApp;
  const tag = randomUUID().slice(0, 8);
  const readOrders = `read:orders-${tag}`;
  const orders = `https://orders-${tag}.example.com`;

  /** The person's browser through sign-in and consent; the URL the server finally sends it to. */
  async function signInOverHttp(url: URL): Promise<URL> {
    const browser = new Browser(world.url);
    let { res, url: at } = await browser.follow(await browser.get(url.toString()));
    for (let step = 0; step < 4 && res.status === 200; step++) {
      const html = await res.text();
      const fields = html.includes('name="password"')
        ? { email: person.email, password: person.password }
        : ({} as Record<string, string>);
      const action = formAction(html, html.includes('name="password"') ? '/login' : '/confirm');
      ({ res, url: at } = await browser.follow(await browser.postForm(action, { _csrf: csrfFrom(html), ...fields })));
    }
    assert.ok(at.startsWith(REDIRECT), `ended at ${at} (${res.status})`);
    return new URL(at);
  }

  before(async () => {
    world = await startWorld();
    owner = await world.user({ tag: 'owner' });
    person = await world.user({ tag: 'person' });
    const bearer = world.jwt({ sub: owner.id, scopes: ['write:applications', 'read:users'] });
    const api = await world.request('POST', '/v2/apis', {
      bearer,
      body: { name: 'Orders', identifier: orders, scopes: [{ name: readOrders, description: 'Read your orders' }] },
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    app = await registerApp(owner.browser, {
      name: 'Agent',
      redirect_uris: [REDIRECT],
      scopes: ['read:users', readOrders],
      type: 'web',
    });
    const rs = await world.request('POST', '/oauth/applications', {
      bearer,
      body: { name: 'Orders server', type: 'resource_server', scopes: [], api: orders },
    });
    assert.equal(rs.status, 201, JSON.stringify(rs.body));
    ordersServer = rs.body as unknown as RegisteredApp;
  });
  after(() => world?.close());

  it('oauth4webapi: from a 401 through RFC 9728 metadata to a /v2 token with `resource` (code + PKCE)', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true };
    const resource = new URL(`${world.url}/v2`);
    // 1. No token: the 401 names the metadata.
    let challenge: oauth.WWWAuthenticateChallenge | undefined;
    try {
      await oauth.protectedResourceRequest(
        'none',
        'GET',
        new URL(`${world.url}/v2/auth/test`),
        undefined,
        null,
        insecure,
      );
    } catch (err) {
      assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
      challenge = err.cause[0];
    }
    const metadataUrl = challenge?.parameters.resource_metadata;
    assert.ok(metadataUrl, 'the challenge names resource_metadata');
    // 2. The metadata, validated by the library against the resource it protects.
    const rsMetadata = await oauth.processResourceDiscoveryResponse(
      resource,
      await oauth.resourceDiscoveryRequest(resource, insecure),
    );
    assert.equal(new URL(metadataUrl).pathname, '/.well-known/oauth-protected-resource/v2');
    const issuer = new URL(rsMetadata.authorization_servers![0]!);
    // 3. The authorization server's metadata, then the code flow with PKCE and `resource`.
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    const rp: oauth.Client = { client_id: app.client_id };
    const clientAuth = oauth.ClientSecretBasic(app.client_secret!);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.search = new URLSearchParams({
      client_id: app.client_id,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'read:users',
      state,
      resource: resource.href,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const landed = await signInOverHttp(authorizationUrl);
    const params = oauth.validateAuthResponse(as, rp, landed, state);
    const response = await oauth.authorizationCodeGrantRequest(as, rp, clientAuth, params, REDIRECT, verifier, {
      ...insecure,
      additionalParameters: { resource: resource.href },
    });
    const tokens = await oauth.processAuthorizationCodeResponse(as, rp, response);
    assert.ok(tokens.scope?.split(' ').includes('read:users'), tokens.scope);
    // 4. The call succeeds.
    const called = await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${world.url}/v2/auth/test`),
      undefined,
      null,
      insecure,
    );
    assert.equal(called.status, 200);
    assert.equal(((await called.json()) as { subject: string }).subject, person.id);
  });

  it('openid-client v6: `resource` at authorize and token for a registered API; /v2 refuses that token', async () => {
    const config = await client.discovery(
      new URL(world.url),
      app.client_id,
      app.client_secret!,
      client.ClientSecretBasic(app.client_secret!),
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: `openid ${readOrders}`,
      resource: orders,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const landed = await signInOverHttp(url);
    const tokens = await client.authorizationCodeGrant(
      config,
      landed,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
      { resource: orders },
    );
    assert.equal(tokens.scope?.split(' ').includes(readOrders), true, tokens.scope);
    assert.equal(tokens.scope?.includes('read:users'), false, tokens.scope);
    const seen = await introspect(world.server, ordersServer, tokens.access_token);
    assert.equal(seen['active'], true);
    assert.equal(seen['aud'], orders);
    const refused = await fetch(`${world.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token", resource_metadata=/);
    // A refresh for the same API keeps to it.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: orders });
    assert.equal((await introspect(world.server, ordersServer, refreshed.access_token))['active'], true);
  });
});
