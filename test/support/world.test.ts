import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signIn } from './api.ts';
import { Browser, csrfFrom } from './http.ts';
import { startWorld, type TestWorld } from './world.ts';

// The fixture's own factories make what they say: here, those no other test relies on yet.
describe('TestWorld factories', () => {
  let clock = Date.UTC(2026, 10, 27, 12, 0, 0);
  let world: TestWorld;
  before(async () => (world = await startWorld({ now: () => clock })));
  after(() => world.close());

  it('user({ twoFactor: true }) enrols TOTP: sign-in then asks for a code, and its totp() passes', async () => {
    const u = await world.user({ twoFactor: true, tag: 'totp' });
    assert.equal(u.recoveryCodes.length, 10);
    clock += 30_000; // the enrolment used this window's code; a code is accepted once
    const browser = new Browser(world.url);
    const first = await signIn(browser, u.email, u.password);
    assert.equal(first.status, 303);
    assert.match(first.headers.get('location') ?? '', /^\/login\/2fa/);
    const page = await (await browser.get('/login/2fa')).text();
    const done = await browser.postForm('/login/2fa', { _csrf: csrfFrom(page), code: u.totp() });
    assert.equal(done.status, 303);
    assert.equal((await browser.get('/dashboard')).status, 200);
  });

  it('request() answers status, headers and the parsed body, anonymously or with a bearer', async () => {
    const u = await world.user();
    const key = await world.apiKey(u, ['read:users']);
    const anonymous = await world.request('GET', '/v2/auth/test');
    assert.equal(anonymous.status, 401);
    assert.deepEqual(Object.keys(anonymous.body), ['error']);
    const authed = await world.request('GET', '/v2/auth/test', { bearer: key.key });
    assert.equal(authed.status, 200);
    assert.match(authed.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(authed.body['valid'], true);
    assert.equal(authed.body['subject'], u.id);
  });
});
