/**
 * Dynamic client registration with real relying-party libraries, unmodified: openid-client v6's
 * `dynamicClientRegistration` and oauth4webapi's `dynamicClientRegistrationRequest` +
 * `processDynamicClientRegistrationResponse` register against the server (open mode, and with an
 * initial access token), then complete an authorization code flow with the client they got. The
 * one concession, as in e2e/relying-parties.test.ts: the test server is plain http on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { authorizeOpenId } from '../support/openid.ts';
import { REDIRECT_URI, startWorld, type TestUser, type TestWorld } from '../support/world.ts';

const PUBLIC_METADATA = {
  client_name: 'Library agent',
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid read:users',
};

for (const mode of ['open', 'token'] as const) {
  describe(`real clients register themselves (DYNAMIC_REGISTRATION=${mode})`, () => {
    let world: TestWorld;
    let person: TestUser;
    let admin: TestUser;
    before(async () => {
      world = await startWorld({ env: { DYNAMIC_REGISTRATION: mode } });
      person = await world.user({ tag: 'person' });
      admin = await world.user({ admin: true, tag: 'admin' });
    });
    after(() => world.close());

    /** An initial access token in `token` mode (none in `open` mode). */
    async function initialAccessToken(): Promise<string | undefined> {
      if (mode === 'open') return undefined;
      const res = await admin.browser.postJson('/v2/admin/registration-tokens', { max_uses: 1 });
      return ((await res.json()) as { token: string }).token;
    }

    it('openid-client: dynamicClientRegistration, then the code flow with PKCE', async () => {
      const iat = await initialAccessToken();
      const config = await client.dynamicClientRegistration(
        new URL(world.server.config.ISSUER),
        PUBLIC_METADATA,
        client.None(),
        {
          execute: [client.allowInsecureRequests],
          ...(iat ? { initialAccessToken: iat } : {}),
        },
      );
      const registered = config.clientMetadata();
      assert.match(registered.client_id, /^app_/);
      assert.equal(registered.token_endpoint_auth_method, 'none');
      assert.match(String(registered['registration_access_token']), /^lkrat_/);

      const verifier = client.randomPKCECodeVerifier();
      const challenge = await client.calculatePKCECodeChallenge(verifier);
      const { redirect, state } = await authorizeOpenId(world.server, { client_id: registered.client_id }, person, {
        extra: { code_challenge: challenge, code_challenge_method: 'S256' },
      });
      const tokens = await client.authorizationCodeGrant(config, redirect, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        idTokenExpected: true,
      });
      assert.equal(tokens.claims()!.sub, person.id);
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
      assert.ok(refreshed.access_token);
    });

    it('oauth4webapi (strict processors): registers, then the code flow with PKCE', async () => {
      const insecure = { [oauth.allowInsecureRequests]: true };
      const issuer = new URL(world.server.config.ISSUER);
      const as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
      );
      const iat = await initialAccessToken();
      const registration = await oauth.dynamicClientRegistrationRequest(as, PUBLIC_METADATA, {
        ...insecure,
        ...(iat ? { initialAccessToken: iat } : {}),
      });
      const registered = await oauth.processDynamicClientRegistrationResponse(registration);
      assert.match(registered.client_id, /^app_/);

      const verifier = oauth.generateRandomCodeVerifier();
      const challenge = await oauth.calculatePKCECodeChallenge(verifier);
      const { redirect, state } = await authorizeOpenId(world.server, { client_id: registered.client_id }, person, {
        extra: { code_challenge: challenge, code_challenge_method: 'S256' },
      });
      const params = oauth.validateAuthResponse(as, registered, redirect, state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        registered,
        oauth.None(),
        params,
        REDIRECT_URI,
        verifier,
        insecure,
      );
      const tokens = await oauth.processAuthorizationCodeResponse(as, registered, response);
      assert.ok(tokens.access_token);
      assert.equal(oauth.getValidatedIdTokenClaims(tokens)!.sub, person.id);
    });

    if (mode === 'token') {
      it('openid-client: a confidential client registers with an initial access token, uses its secret', async () => {
        const config = await client.dynamicClientRegistration(
          new URL(world.server.config.ISSUER),
          {
            client_name: 'Confidential agent',
            redirect_uris: [REDIRECT_URI],
            token_endpoint_auth_method: 'client_secret_basic',
          },
          undefined,
          { execute: [client.allowInsecureRequests], initialAccessToken: (await initialAccessToken())! },
        );
        const registered = config.clientMetadata();
        assert.match(String(registered.client_secret), /^lkcs_/);
        const verifier = client.randomPKCECodeVerifier();
        const { redirect, state } = await authorizeOpenId(world.server, { client_id: registered.client_id }, person, {
          extra: { code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' },
        });
        const tokens = await client.authorizationCodeGrant(config, redirect, {
          pkceCodeVerifier: verifier,
          expectedState: state,
        });
        assert.ok(tokens.access_token);
      });
    }
  });
}
