import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectApiError } from '../../../test/support/api.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { request, startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';

// /v2 answers CORS for the origins of the applications' pages (their redirect URIs' origins and
// their allowed_origins), with bearer tokens only: never a credentialed answer, and a request from
// another origin is never authenticated by the dashboard session cookie.

const APP_ORIGIN = 'https://spa.example';
const CONSOLE_ORIGIN = 'https://console.example';
const STRANGER = 'https://evil.example';

describe('/v2 CORS for applications’ pages', () => {
  let world: TestWorld;
  let alice: TestUser;
  let token: string;

  const preflight = (origin: string, path = '/v2/auth/test', method = 'GET') =>
    fetch(`${world.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': 'authorization, dpop',
      },
    });
  const call = (origin: string | null, bearer: string | null, path = '/v2/auth/test') =>
    fetch(`${world.url}${path}`, {
      headers: { ...(origin ? { Origin: origin } : {}), ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}) },
    });

  before(async () => {
    world = await startWorld();
    alice = await world.user({ tag: 'alice' });
    await world.app(alice, { type: 'spa', scopes: ['read:users'], redirect_uris: [`${APP_ORIGIN}/callback`] });
    token = (await world.oauthToken(alice, ['read:users'])).access_token;
  });
  after(() => world.close());

  it('a preflight from an application’s redirect origin: methods, headers, max-age, no credentials', async () => {
    const res = await preflight(APP_ORIGIN, '/v2/projects', 'POST');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const header of ['authorization', 'content-type', 'dpop']) assert.ok(allowed.includes(header), allowed);
    assert.equal(res.headers.get('access-control-max-age'), '600');
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
    assert.match(res.headers.get('vary') ?? '', /Origin/i);
  });

  it('grants nothing to a preflight from an origin no application has', async () => {
    for (const origin of [STRANGER, 'null', `${APP_ORIGIN}:8443`, 'http://spa.example']) {
      const res = await preflight(origin);
      assert.equal(res.status, 204, origin);
      assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
      assert.equal(res.headers.get('access-control-allow-methods'), null, origin);
      assert.match(res.headers.get('vary') ?? '', /Origin/i);
    }
  });

  it('lets an allowed page read an answer and the headers it needs, errors included', async () => {
    const ok = await call(APP_ORIGIN, token);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.equal(ok.headers.get('access-control-allow-credentials'), null);
    const exposed = (ok.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    for (const header of ['x-api-version', 'x-ratelimit-remaining', 'www-authenticate', 'dpop-nonce']) {
      assert.ok(exposed.includes(header), exposed);
    }
    const refused = await call(APP_ORIGIN, null);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), APP_ORIGIN);
    assert.ok(refused.headers.get('www-authenticate'));
  });

  it('does not let another origin read an answer (the request itself is the bearer token’s business)', async () => {
    const res = await call(STRANGER, token);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-expose-headers'), null);
  });

  it('follows allowed_origins as they change: registered, removed, application deleted', async () => {
    assert.equal((await preflight(CONSOLE_ORIGIN)).headers.get('access-control-allow-origin'), null);
    const created = await request(alice.browser, 'POST', '/oauth/applications', {
      body: {
        name: 'Console',
        type: 'web',
        redirect_uris: ['https://console-backend.example/callback'],
        scopes: [],
        allowed_origins: [CONSOLE_ORIGIN],
      },
    });
    assert.equal(created.status, 201, await created.text());
    assert.deepEqual(created.body['allowed_origins'], [CONSOLE_ORIGIN]);
    const clientId = created.body['client_id'] as string;
    assert.equal((await preflight(CONSOLE_ORIGIN)).headers.get('access-control-allow-origin'), CONSOLE_ORIGIN);
    assert.equal(
      (await preflight('https://console-backend.example')).headers.get('access-control-allow-origin'),
      'https://console-backend.example',
    );

    const path = `/oauth/applications/${clientId}`;
    const updated = await request(alice.browser, 'PATCH', path, { body: { allowed_origins: [] } });
    assert.equal(updated.status, 200, await updated.text());
    assert.equal((await preflight(CONSOLE_ORIGIN)).headers.get('access-control-allow-origin'), null);

    await request(alice.browser, 'PATCH', path, { body: { allowed_origins: [CONSOLE_ORIGIN] } });
    assert.equal((await preflight(CONSOLE_ORIGIN)).headers.get('access-control-allow-origin'), CONSOLE_ORIGIN);
    assert.equal((await request(alice.browser, 'DELETE', path)).status, 204);
    assert.equal((await preflight(CONSOLE_ORIGIN)).headers.get('access-control-allow-origin'), null);
  });

  it('refuses allowed_origins that are not origins, http off loopback, or on apps with no pages', async () => {
    const register = (body: Record<string, unknown>) =>
      request(alice.browser, 'POST', '/oauth/applications', {
        body: { name: 'Bad', redirect_uris: ['https://a.example/cb'], scopes: [], ...body },
      });
    await expectApiError(await register({ allowed_origins: ['https://a.example/app'] }), 400, 'VALIDATION_FAILED', {
      field: 'allowed_origins.0',
    });
    await expectApiError(await register({ allowed_origins: ['https://a.example/'] }), 400, 'VALIDATION_FAILED', {
      field: 'allowed_origins.0',
    });
    await expectApiError(await register({ allowed_origins: ['http://a.example'] }), 400, 'VALIDATION_FAILED', {
      field: 'allowed_origins.0',
    });
    await expectApiError(await register({ allowed_origins: ['*'] }), 400, 'VALIDATION_FAILED', {
      field: 'allowed_origins.0',
    });
    await expectApiError(
      await register({ type: 'service', redirect_uris: [], allowed_origins: ['https://a.example'] }),
      400,
      'VALIDATION_FAILED',
      { field: 'allowed_origins' },
    );
    const loopback = await register({ allowed_origins: ['http://127.0.0.1:5173', 'http://localhost:3000'] });
    assert.equal(loopback.status, 201, await loopback.text());
  });

  it('the dashboard form shows, saves and refuses allowed origins', async () => {
    const FORM_ORIGIN = 'https://form-console.example';
    const post = async (path: string, fields: Record<string, string>) => {
      const page = await (await alice.browser.get(path)).text();
      const target = path.endsWith('/new') ? '/settings/applications' : path;
      return alice.browser.postForm(target, { _csrf: csrfFrom(page), ...fields });
    };
    const fields = {
      name: 'Form SPA',
      type: 'spa',
      redirect_uris: 'https://form-spa.example/cb',
      scopes: 'read:users',
    };
    const created = await post('/settings/applications/new', { ...fields, allowed_origins: FORM_ORIGIN });
    assert.equal(created.status, 303);
    const id = decodeURIComponent(/applications\/([^/?]+)/.exec(created.headers.get('location')!)![1]!);
    const detail = await (await alice.browser.get(`/settings/applications/${id}`)).text();
    assert.match(detail, new RegExp(`<textarea id="allowed_origins"[^>]*>${FORM_ORIGIN}</textarea>`));
    assert.equal((await preflight(FORM_ORIGIN)).headers.get('access-control-allow-origin'), FORM_ORIGIN);

    const refused = await post(`/settings/applications/${id}`, { ...fields, allowed_origins: `${FORM_ORIGIN}/app` });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /allowed_origins/);
    const cleared = await post(`/settings/applications/${id}`, { ...fields, allowed_origins: '' });
    assert.equal(cleared.status, 303);
    assert.equal((await preflight(FORM_ORIGIN)).headers.get('access-control-allow-origin'), null);
  });

  describe('the dashboard session never authenticates a request from another origin', () => {
    const asBrowser = (headers: Record<string, string>) =>
      alice.browser.request('/v2/users/me', { headers: { Accept: 'application/json', ...headers } });

    it('our own pages (same origin, or no Origin) still use the session', async () => {
      assert.equal((await asBrowser({})).status, 200);
      assert.equal((await asBrowser({ Origin: new URL(world.url).origin })).status, 200);
      assert.equal((await asBrowser({ 'Sec-Fetch-Site': 'same-origin' })).status, 200);
    });

    it('an allowed application’s page, a stranger, a sibling site: 401, cookie or not', async () => {
      for (const headers of <Record<string, string>[]>[
        { Origin: APP_ORIGIN },
        { Origin: STRANGER },
        { Origin: 'null' },
        { 'Sec-Fetch-Site': 'cross-site' },
        { 'Sec-Fetch-Site': 'same-site' },
      ]) {
        const res = await asBrowser(headers);
        assert.equal(res.status, 401, JSON.stringify(headers));
      }
      const write = await alice.browser.postJson('/v2/projects', { name: 'x' }, { Origin: APP_ORIGIN });
      assert.equal(write.status, 401);
    });
  });
});
