import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { introspect, newApp, refresh, type RegisteredApp } from '../../test/support/oauth.ts';
import { worldOn, request, type TestUser } from '../../test/support/world.ts';
import { Browser } from '../../test/support/http.ts';
import {
  approveDevice,
  enterCode,
  poll,
  requestDeviceCode,
  startDevice,
} from '../../test/support/device.ts';

const NATIVE = { type: 'native', redirect_uris: ['http://127.0.0.1/callback'] };

// RFC 8628 end to end over HTTP: a native application asks for a device code, polls the token
// endpoint, and a person signed in to Latchkey types the user code at /device, confirms it and
// consents; the device's next poll gets the tokens.
describe('device authorization grant', () => {
  let server: TestServer;
  let app: RegisteredApp;
  let person: TestUser;

  before(async () => {
    // A one-second polling interval keeps the suite quick; slow_down is measured against it.
    server = await startTestServer({ env: { DEVICE_POLL_INTERVAL: '1' } });
    app = await newApp(server, { ...NATIVE, scopes: ['read:users'] });
    person = await worldOn(server).user();
  });
  after(() => server.dispose());

  /** Waits out the polling interval, so the next poll is not answered slow_down. */
  const pause = () => new Promise((resolve) => setTimeout(resolve, 1_050));

  it('answers authorization_pending until the person approves, then tokens that work at /v2', async () => {
    const device = await startDevice(server, app, 'openid offline_access read:users');
    assert.match(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(device.verification_uri, `${server.url}/device`);
    assert.equal(device.verification_uri_complete, `${server.url}/device?user_code=${device.user_code}`);
    assert.equal(device.interval, 1);
    assert.ok(device.expires_in > 500 && device.expires_in <= 600);

    const pending = await poll(server, app, device.device_code);
    assert.equal(pending.status, 400);
    assert.equal(pending.body['error'], 'authorization_pending');

    const approval = await approveDevice(person.browser, device.user_code);
    assert.equal(approval.status, 200);
    assert.ok(approval.sawConfirmation && approval.sawConsent);
    assert.match(approval.html, /You can return to your device/);

    await pause();
    const tokens = await poll(server, app, device.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    assert.equal(tokens.body['token_type'], 'Bearer');
    assert.ok(tokens.body['id_token'], 'openid was asked for');
    assert.ok(tokens.body['refresh_token'], 'a native application gets a refresh token');
    const me = await request(server, 'GET', '/v2/auth/test', { bearer: String(tokens.body['access_token']) });
    assert.equal(me.status, 200);
    assert.equal(me.body['method'], 'oauth');
    assert.equal(me.body['subject'], person.id);
    assert.deepEqual(me.body['scopes'], ['read:users']);

    const refreshed = await refresh(server, app, String(tokens.body['refresh_token']));
    assert.ok(refreshed.access_token);
  });
});
