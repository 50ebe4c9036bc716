/**
 * Two real client libraries, unmodified, as their documentation shows, against the real server:
 * a pushed authorization request, the code flow with PKCE, tokens bound to a DPoP key (answering
 * the server's nonce challenge as each library does), and a call to /v2 with the bound token.
 * The person signs in over HTTP (the same pages a browser sees); the one concession is http on
 * loopback (`allowInsecureRequests`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { Browser, authorizeAt } from '../support/http.ts';
import { REDIRECT_URI, request, startWorld, type TestUser, type TestWorld } from '../support/world.ts';

interface App {
  client_id: string;
  client_secret: string;
}

describe('Real clients: PAR and DPoP with openid-client and oauth4webapi', () => {
  let world: TestWorld;
  let alice: TestUser;
  let app: App;
  let api: URL;

  before(async () => {
    world = await startWorld();
    alice = await world.user({ tag: 'alice' });
    const res = await alice.browser.postJson('/oauth/applications', {
      name: 'Agent',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users'],
      require_pushed_authorization_requests: true,
      require_dpop: true,
    });
    assert.equal(res.status, 201);
    app = (await res.json()) as App;
    api = new URL(`${world.server.config.ISSUER}/v2/auth/test`);
  });
  after(() => world.close());

  /** The person signs in and approves at the URL the library built; answers where the browser lands. */
  async function signIn(url: URL): Promise<URL> {
    const { redirect } = await authorizeAt(new Browser(world.url), url.href, alice);
    return redirect;
  }

  it('openid-client: buildAuthorizationUrlWithPAR, a DPoP-bound code grant, userinfo, the API', async () => {
    const config = await client.discovery(
      new URL(world.server.config.ISSUER),
      app.client_id,
      app.client_secret,
      undefined,
      { execute: [client.allowInsecureRequests] },
    );
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair());
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const authorizationUrl = await client.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email read:users',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
      },
      { DPoP },
    );
    assert.deepEqual([...authorizationUrl.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    const landed = await signIn(authorizationUrl);
    const tokens = await client.authorizationCodeGrant(
      config,
      landed,
      { pkceCodeVerifier: codeVerifier, expectedState: state },
      undefined,
      { DPoP },
    );
    assert.equal(tokens.token_type, 'dpop');
    const res = await client.fetchProtectedResource(config, tokens.access_token, api, 'GET', undefined, undefined, {
      DPoP,
    });
    assert.equal(res.status, 200);
    const claims = tokens.claims()!;
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
    assert.equal(info.email, alice.email);
    // The same token without its key is worth nothing.
    assert.equal((await request(world.server, 'GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 401);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    const again = await client.fetchProtectedResource(
      config,
      refreshed.access_token,
      api,
      'GET',
      undefined,
      undefined,
      {
        DPoP,
      },
    );
    assert.equal(again.status, 200);
  });

  it('oauth4webapi: pushedAuthorizationRequest, the DPoP() handle, the strict processors', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true };
    const issuer = new URL(world.server.config.ISSUER);
    const as = await oauth
      .discoveryRequest(issuer, insecure)
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    const rp: oauth.Client = { client_id: app.client_id };
    const clientAuth = oauth.ClientSecretBasic(app.client_secret);
    const DPoP = oauth.DPoP(rp, await oauth.generateKeyPair('ES256'));
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const parameters = new URLSearchParams({
      redirect_uri: REDIRECT_URI,
      scope: 'read:users',
      response_type: 'code',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
    });

    // As oauth4webapi's documentation shows: a use_dpop_nonce answer is retried once, the handle
    // having kept the nonce it carried.
    const withNonceRetry = async <T>(attempt: () => Promise<T>): Promise<T> => {
      try {
        return await attempt();
      } catch (err) {
        if (!oauth.isDPoPNonceError(err)) throw err;
        return attempt();
      }
    };

    const pushed = await withNonceRetry(async () =>
      oauth.processPushedAuthorizationResponse(
        as,
        rp,
        await oauth.pushedAuthorizationRequest(as, rp, clientAuth, parameters, { DPoP, ...insecure }),
      ),
    );
    assert.equal(pushed.expires_in, 60);
    const authorizationUrl = new URL(as.authorization_endpoint!);
    authorizationUrl.searchParams.set('client_id', rp.client_id);
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri);
    const landed = await signIn(authorizationUrl);
    const callback = oauth.validateAuthResponse(as, rp, landed, state);
    const result = await withNonceRetry(async () =>
      oauth.processAuthorizationCodeResponse(
        as,
        rp,
        await oauth.authorizationCodeGrantRequest(as, rp, clientAuth, callback, REDIRECT_URI, codeVerifier, {
          DPoP,
          ...insecure,
        }),
      ),
    );
    assert.equal(result.token_type, 'dpop');
    const res = await oauth.protectedResourceRequest(result.access_token, 'GET', api, undefined, undefined, {
      DPoP,
      ...insecure,
    });
    assert.equal(res.status, 200);
    // Another key's proof with the same token is refused, and says which scheme it wants.
    const thief = oauth.DPoP(rp, await oauth.generateKeyPair('ES256'));
    await assert.rejects(
      oauth.protectedResourceRequest(result.access_token, 'GET', api, undefined, undefined, {
        DPoP: thief,
        ...insecure,
      }),
      (err: unknown) => {
        assert.ok(err instanceof oauth.WWWAuthenticateChallengeError);
        assert.equal(err.status, 401);
        assert.equal(err.cause[0]?.scheme, 'dpop');
        assert.equal(err.cause[0]?.parameters.error, 'invalid_token');
        return true;
      },
    );
  });
});
