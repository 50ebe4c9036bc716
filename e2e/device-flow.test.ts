import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import type { Browser as Chromium } from 'playwright-core';
import { launchChromium } from './chromium.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, signUp } from '../test/support/http.ts';
import { BY_SYSTEM } from '../src/features/audit/audit.ts';

// The device authorization grant (RFC 8628) with two real client libraries, used as their READMEs
// show: the "device" (this test process) asks for a code and polls the token endpoint while a
// person, in a real Chromium, opens verification_uri_complete, signs in, checks the code, and
// approves on the consent page. The device's tokens then work at /v2/auth/test.
//
// The server runs on http://127.0.0.1 (no TLS in tests): openid-client is told
// `allowInsecureRequests` and oauth4webapi `[allowInsecureRequests]: true`, the one concession.

const PASSWORD = 'correct horse battery';
const SCOPE = 'openid offline_access read:users';

describe('Device flow with real clients: openid-client and oauth4webapi', { timeout: 120_000 }, () => {
  let server: TestServer;
  let chromium: Chromium;
  let developer: Browser;
  let people = 0;

  before(async () => {
    // Devices poll every second here, so the journeys take seconds.
    server = await startTestServer({ env: { DEVICE_POLL_INTERVAL: '1' } });
    chromium = await launchChromium();
    developer = new Browser(server.url);
    await signUp(developer, 'device-dev@example.com', PASSWORD);
  });
  after(async () => {
    await chromium?.close();
    await server?.dispose();
  });

  /** A native application (a public client: no secret), which may use the device flow. */
  async function registerNativeApp(name: string): Promise<string> {
    const res = await developer.postJson('/oauth/applications', {
      name,
      type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      scopes: ['read:users'],
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { client_id: string }).client_id;
  }

  async function newPerson(): Promise<{ email: string; id: string }> {
    const email = `device-person${++people}@example.com`;
    await server.built.services.accounts.signUp(
      { email, password: PASSWORD, name: `Person ${people}` } as never,
      BY_SYSTEM,
    );
    const account = await server.built.services.accounts.authenticate(email, PASSWORD);
    return { email, id: (account as { id: string }).id };
  }

  /** The person's part, in Chromium: the link from the device, sign-in, the code, the consent. */
  async function approveInChromium(verificationUriComplete: string, userCode: string, email: string, app: string) {
    const context = await chromium.newContext();
    try {
      const page = await context.newPage();
      await page.goto(verificationUriComplete);
      // Not signed in yet: our one sign-in first, which comes back to the code.
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
      assert.equal(await page.getByLabel('Code').inputValue(), userCode, 'the code from the link, to check');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: `Connect ${app}?` }).waitFor();
      await page.getByText(userCode, { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { name: 'You can return to your device' }).waitFor();
    } finally {
      await context.close();
    }
  }

  async function authTest(accessToken: string) {
    const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${accessToken}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as { method: string; subject: string; scopes: string[] };
  }

  it('openid-client: initiateDeviceAuthorization, approval in Chromium, pollDeviceAuthorizationGrant', async () => {
    const clientId = await registerNativeApp('TV app (openid-client)');
    const person = await newPerson();
    const config = await client.discovery(new URL(server.config.ISSUER), clientId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    const device = await client.initiateDeviceAuthorization(config, { scope: SCOPE });
    assert.equal(device.verification_uri, `${server.url}/device`);
    assert.ok(device.verification_uri_complete);

    const polling = client.pollDeviceAuthorizationGrant(config, device);
    await approveInChromium(
      device.verification_uri_complete!,
      device.user_code,
      person.email,
      'TV app (openid-client)',
    );
    const tokens = await polling;

    assert.equal(tokens.claims()?.sub, person.id);
    assert.ok(tokens.refresh_token, 'a native application gets a refresh token');
    const me = await authTest(tokens.access_token);
    assert.equal(me.method, 'oauth');
    assert.equal(me.subject, person.id);
    assert.ok(me.scopes.includes('read:users'));
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal((await authTest(refreshed.access_token)).subject, person.id);
  });

  it('oauth4webapi: deviceAuthorizationRequest, approval in Chromium, processDeviceCodeResponse', async () => {
    const clientId = await registerNativeApp('CLI (oauth4webapi)');
    const person = await newPerson();
    const insecure = { [oauth.allowInsecureRequests]: true };
    const issuer = new URL(server.config.ISSUER);
    const as = await oauth
      .discoveryRequest(issuer, { algorithm: 'oidc', ...insecure })
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    const rp: oauth.Client = { client_id: clientId };
    const clientAuth = oauth.None();

    const device = await oauth
      .deviceAuthorizationRequest(as, rp, clientAuth, { scope: SCOPE }, insecure)
      .then((response) => oauth.processDeviceAuthorizationResponse(as, rp, response));

    /** Polls as RFC 8628 §3.5 says: wait the interval; on slow_down, 5 seconds more. */
    const poll = async (): Promise<oauth.TokenEndpointResponse> => {
      let interval = device.interval ?? 5;
      let pending = 0;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, interval * 1000));
        const response = await oauth.deviceCodeGrantRequest(as, rp, clientAuth, device.device_code, insecure);
        try {
          const result = await oauth.processDeviceCodeResponse(as, rp, response);
          assert.ok(pending > 0, 'the device heard authorization_pending before the approval');
          return result;
        } catch (err) {
          if (!(err instanceof oauth.ResponseBodyError)) throw err;
          if (err.error === 'authorization_pending') pending++;
          else if (err.error === 'slow_down') interval += 5;
          else throw err;
        }
      }
    };
    const polling = poll();
    await approveInChromium(device.verification_uri_complete!, device.user_code, person.email, 'CLI (oauth4webapi)');
    const tokens = await polling;

    assert.equal(oauth.getValidatedIdTokenClaims(tokens)?.sub, person.id);
    assert.ok(tokens.refresh_token);
    const me = await authTest(tokens.access_token);
    assert.equal(me.subject, person.id);
    assert.ok(me.scopes.includes('read:users'));
  });
});
