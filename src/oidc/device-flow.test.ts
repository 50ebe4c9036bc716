import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { newApp, refresh, type RegisteredApp } from '../../test/support/oauth.ts';
import { worldOn, request, type TestUser } from '../../test/support/world.ts';
import { Browser, csrfFrom, formAction } from '../../test/support/http.ts';
import { dumpDatabase } from '../../test/support/db-dump.ts';
import {
  approveDevice,
  enterCode,
  fieldFrom,
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
    assert.ok((me.body['scopes'] as string[]).includes('read:users'));

    const refreshed = await refresh(server, app, String(tokens.body['refresh_token']));
    assert.ok(refreshed.access_token);
  });

  it('answers slow_down to a device polling sooner than its interval', async () => {
    const device = await startDevice(server, app);
    assert.equal((await poll(server, app, device.device_code)).body['error'], 'authorization_pending');
    const tooSoon = await poll(server, app, device.device_code);
    assert.equal(tooSoon.status, 400);
    assert.equal(tooSoon.body['error'], 'slow_down');
    await pause();
    assert.equal((await poll(server, app, device.device_code)).body['error'], 'authorization_pending');
  });

  it('answers access_denied when the person denies on the consent page, or cancels the code', async () => {
    const denied = await startDevice(server, app);
    const deny = await approveDevice(person.browser, denied.user_code, { decision: 'deny' });
    assert.ok(deny.sawConsent);
    assert.match(deny.html, /You denied access/);
    const refused = await poll(server, app, denied.device_code);
    assert.equal(refused.status, 400);
    assert.equal(refused.body['error'], 'access_denied');

    const cancelled = await startDevice(server, app);
    const cancel = await approveDevice(person.browser, cancelled.user_code, { decision: 'cancel' });
    assert.equal(cancel.sawConsent, false);
    assert.match(cancel.html, /You denied access/);
    assert.equal((await poll(server, app, cancelled.device_code)).body['error'], 'access_denied');
  });

  it('refuses a device code used again after its tokens were issued, and the user code typed again', async () => {
    const device = await startDevice(server, app);
    await approveDevice(person.browser, device.user_code);
    await pause();
    const first = await poll(server, app, device.device_code);
    assert.equal(first.status, 200);
    const retyped = await enterCode(person.browser, device.user_code);
    assert.equal(retyped.status, 400);
    assert.match(await retyped.text(), /already been used/);
    await pause();
    const again = await poll(server, app, device.device_code);
    assert.equal(again.status, 400);
    assert.equal(again.body['error'], 'invalid_grant');
    // Presenting it again ends what it gave (as a reused authorization code does).
    const me = await request(server, 'GET', '/v2/auth/test', { bearer: String(first.body['access_token']) });
    assert.equal(me.status, 401);
  });

  it('gives the tokens only to the application that asked for the code', async () => {
    const other = await newApp(server, { ...NATIVE, scopes: ['read:users'] });
    const device = await startDevice(server, app);
    await approveDevice(person.browser, device.user_code);
    const stolen = await poll(server, other, device.device_code);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body['error'], 'invalid_grant');
  });

  it('lets only applications allowed the grant ask for a device code (unauthorized_client)', async () => {
    const web = await newApp(server, {
      type: 'web',
      redirect_uris: ['https://myapp.com/callback'],
      scopes: ['read:users'],
    });
    const fromWeb = await requestDeviceCode(server, web);
    assert.equal(fromWeb.status, 400);
    assert.equal(fromWeb.body['error'], 'unauthorized_client');
    const service = await newApp(server, { type: 'service', redirect_uris: [], scopes: ['read:users'] });
    assert.equal((await requestDeviceCode(server, service)).body['error'], 'unauthorized_client');
    // Nor may one of them poll with a device code of its own making.
    const polled = await poll(server, web, 'not-a-device-code');
    assert.equal(polled.body['error'], 'unauthorized_client');
  });

  it('reads the user code back in lower case, without the dash, or with spaces', async () => {
    for (const typed of [
      (c: string) => c.toLowerCase(),
      (c: string) => c.replace('-', ''),
      (c: string) => ` ${c.slice(0, 2)} ${c.slice(2).replace('-', ' ').toLowerCase()} `,
    ]) {
      const device = await startDevice(server, app);
      const approval = await approveDevice(person.browser, typed(device.user_code));
      assert.match(approval.html, /You can return to your device/, `typed ${typed(device.user_code)}`);
      await pause();
      assert.equal((await poll(server, app, device.device_code)).status, 200);
    }
  });

  it('says an unknown code is not right, and keeps what was typed', async () => {
    const res = await enterCode(person.browser, 'BCDF-GHJK');
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /That code is not right/);
    assert.match(html, /value="BCDF-GHJK"/);
  });

  it('sends a browser that is not signed in to sign in first, then back to the filled-in form', async () => {
    const device = await startDevice(server, app);
    const browser = new Browser(server.url);
    const complete = new URL(device.verification_uri_complete);
    const res = await browser.get(complete.pathname + complete.search);
    assert.equal(res.status, 302);
    const login = new URL(res.headers.get('location')!, server.url);
    assert.equal(login.pathname, '/login');
    assert.equal(login.searchParams.get('return_to'), `/device?user_code=${device.user_code}`);
    const page = await (await browser.get(login.pathname + login.search)).text();
    const signedIn = await browser.postForm(
      `/login?return_to=${encodeURIComponent(login.searchParams.get('return_to')!)}`,
      {
        _csrf: csrfFrom(page),
        email: person.email,
        password: person.password,
      },
    );
    assert.equal(signedIn.headers.get('location'), `/device?user_code=${device.user_code}`);
    const form = await browser.get(signedIn.headers.get('location')!);
    assert.equal(form.status, 200);
    const html = await form.text();
    // The code is shown filled in for the person to check; nothing is posted on by a script.
    assert.equal(fieldFrom(html, 'user_code'), device.user_code);
    assert.doesNotMatch(html, /<script>|document\.forms/);
  });

  it('refuses a code form posted without its CSRF token', async () => {
    const device = await startDevice(server, app);
    const html = await (await person.browser.get('/device')).text();
    const forged = await person.browser.postForm('/device', {
      xsrf: fieldFrom(html, 'xsrf'),
      user_code: device.user_code,
    });
    assert.equal(forged.status, 403);
    const noXsrf = await person.browser.postForm('/device', { _csrf: csrfFrom(html), user_code: device.user_code });
    assert.equal(noXsrf.status, 400);
    assert.match(await noXsrf.text(), /form has expired/);
  });

  it('keeps neither the device code nor the user code in the database, only their hashes', async () => {
    const device = await startDevice(server, app);
    const normalized = device.user_code.replace('-', '');
    const leaks = async () =>
      (await dumpDatabase(server.db)).filter(
        (d) =>
          d.value.includes(device.device_code) || d.value.includes(normalized) || d.value.includes(device.user_code),
      );
    assert.deepEqual(await leaks(), [], 'waiting for the person');
    // The person has confirmed the code and the consent page waits: the sign-in names the device code.
    const confirmation = await (await enterCode(person.browser, device.user_code)).text();
    const { res } = await person.browser.follow(
      await person.browser.postForm('/device', {
        _csrf: csrfFrom(confirmation),
        xsrf: fieldFrom(confirmation, 'xsrf'),
        user_code: device.user_code,
        confirm: 'yes',
      }),
    );
    const consent = await res.text();
    assert.match(consent, /Approve/);
    assert.deepEqual(await leaks(), [], 'at the consent page');
    const { res: done } = await person.browser.follow(
      await person.browser.postForm(formAction(consent, '/confirm'), { _csrf: csrfFrom(consent) }),
    );
    assert.match(await done.text(), /return to your device/);
    assert.deepEqual(await leaks(), [], 'approved');
    await pause();
    assert.equal((await poll(server, app, device.device_code)).status, 200);
    assert.deepEqual(await leaks(), [], 'tokens issued');
  });
});

describe('device authorization grant: which applications may use it (device_flow)', () => {
  let server: TestServer;
  let person: TestUser;
  let developer: TestUser;

  before(async () => {
    server = await startTestServer({ env: { DEVICE_POLL_INTERVAL: '1' } });
    person = await worldOn(server).user();
    developer = await worldOn(server).user({ tag: 'dev' });
  });
  after(() => server.dispose());

  const register = (body: Record<string, unknown>) =>
    request(developer.browser, 'POST', '/oauth/applications', {
      body: { name: 'Device app', scopes: ['read:users'], ...body },
    });

  it('is on by default for native applications only, and said so on every application', async () => {
    const native = await register(NATIVE);
    assert.equal(native.status, 201);
    assert.equal(native.body['device_flow'], true);
    const web = await register({ redirect_uris: ['https://myapp.com/callback'] });
    assert.equal(web.body['device_flow'], false);
    const service = await register({ type: 'service' });
    assert.equal(service.body['device_flow'], false);
  });

  it('a web application allowed the grant gets tokens with its secret; turned off, it is refused', async () => {
    const made = await register({ redirect_uris: ['https://myapp.com/callback'], device_flow: true });
    assert.equal(made.status, 201);
    const web = made.body as unknown as RegisteredApp;
    const device = await startDevice(server, web);
    await approveDevice(person.browser, device.user_code);
    const tokens = await poll(server, web, device.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    // Without its secret a confidential application is not who it says it is.
    const anonymous = await requestDeviceCode(server, { ...web, client_secret: undefined } as never);
    assert.equal(anonymous.body['error'], 'invalid_client');

    const off = await request(developer.browser, 'PATCH', `/oauth/applications/${web.client_id}`, {
      body: { device_flow: false },
    });
    assert.equal(off.status, 200);
    assert.equal(off.body['device_flow'], false);
    assert.equal((await requestDeviceCode(server, web)).body['error'], 'unauthorized_client');
  });

  it('a native application its owner turned it off for is refused (unauthorized_client)', async () => {
    const made = await register({ ...NATIVE, device_flow: false });
    assert.equal(made.body['device_flow'], false);
    const refused = await requestDeviceCode(server, made.body as unknown as RegisteredApp);
    assert.equal(refused.status, 400);
    assert.equal(refused.body['error'], 'unauthorized_client');
  });

  it('the dashboard: a box on the application page turns it on and off; the page shows the endpoint', async () => {
    const made = await register({ redirect_uris: ['https://myapp.com/callback'] });
    const path = `/settings/applications/${made.body['client_id']}`;
    const grantsOf = async () =>
      (await server.built.services.applications.clientMetadata(String(made.body['client_id'])))?.['grant_types'];
    const save = async (fields: Record<string, string>) => {
      const page = await (await developer.browser.get(path)).text();
      assert.match(page, /name="device_flow" value="on"/);
      const body = { name: 'Device app', redirect_uris: 'https://myapp.com/callback', scopes: 'read:users' };
      return developer.browser.postForm(path, { _csrf: csrfFrom(page), ...body, ...fields });
    };
    assert.equal((await save({ device_flow: 'on' })).status, 303);
    assert.ok(((await grantsOf()) as string[]).includes('urn:ietf:params:oauth:grant-type:device_code'));
    assert.match(await (await developer.browser.get(path)).text(), /\/oauth\/device\/auth/);
    assert.equal((await save({})).status, 303);
    assert.ok(!((await grantsOf()) as string[]).includes('urn:ietf:params:oauth:grant-type:device_code'));
  });

  it('cannot be given to applications that sign nobody in (400 naming device_flow)', async () => {
    for (const type of ['service', 'resource_server']) {
      const res = await register({ type, device_flow: true });
      assert.equal(res.status, 400, type);
      assert.equal((res.body['error'] as { field?: string }).field, 'device_flow', type);
    }
  });
});

describe('device authorization grant: expiry and guessing', () => {
  let server: TestServer;
  let app: RegisteredApp;
  let person: TestUser;

  before(async () => {
    // Three codes an hour, so that the limit is met on purpose and never by a window's edge; the
    // guesses come through a proxy (X-Forwarded-For) from an address of their own.
    server = await startTestServer({
      env: { DEVICE_CODE_TTL: '1', RATE_LIMIT_DEVICE_CODE: '3,100', TRUST_PROXY: '1' },
    });
    app = await newApp(server, { ...NATIVE, scopes: ['read:users'] });
    person = await worldOn(server).user();
  });
  after(() => server.dispose());

  it('answers expired_token once the code has expired, and the form says so', async () => {
    const device = await startDevice(server, app);
    assert.equal(device.expires_in, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const late = await poll(server, app, device.device_code);
    assert.equal(late.status, 400);
    assert.equal(late.body['error'], 'expired_token');
    const res = await enterCode(person.browser, device.user_code);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /That code has expired/);
  });

  it('limits the codes entered at /device per address and per account (429), before looking at them', async () => {
    const guesser = await worldOn(server).user();
    const html = await (await guesser.browser.get('/device')).text();
    const guess = (code: string, from: string, browser = guesser.browser) =>
      browser.request('/device', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': from },
        body: new URLSearchParams({ _csrf: csrfFrom(html), xsrf: fieldFrom(html, 'xsrf'), user_code: code }),
      });
    const answers = [];
    for (const code of ['BCDF-GHJK', 'BCDF-GHJL', 'BCDF-GHJM', 'BCDF-GHJN'])
      answers.push(await guess(code, '203.0.113.7'));
    assert.deepEqual(
      answers.map((a) => a.status),
      [400, 400, 400, 429],
    );
    assert.ok(Number(answers[3]!.headers.get('retry-after')) >= 1);
    assert.match(await answers[3]!.text(), /Too many codes entered/);
    // A new address does not give the same account more guesses.
    assert.equal((await guess('BCDF-GHJP', '203.0.113.8')).status, 429);
    // Nor does another account from the same address.
    const other = await worldOn(server).user();
    const otherForm = await (await other.browser.get('/device')).text();
    const fromOther = await other.browser.request('/device', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.7' },
      body: new URLSearchParams({ _csrf: csrfFrom(otherForm), xsrf: fieldFrom(otherForm, 'xsrf'), user_code: 'X' }),
    });
    assert.equal(fromOther.status, 429);
  });
});
