import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, authorizeUrl, signUp } from '../../../test/support/http.ts';
import { expectApiError, signIn } from '../../../test/support/api.ts';
import { basicAuth, token, type RegisteredApp } from '../../../test/support/oauth.ts';
import { PASSWORD, REDIRECT_URI, request, uniqueEmail } from '../../../test/support/world.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// Application registration (the documented step 1) over real HTTP.
const DOCUMENTED_BODY = {
  name: 'My Application',
  redirect_uris: [REDIRECT_URI],
  scopes: ['read:users', 'write:projects'],
};

describe('POST/GET/PATCH/DELETE /oauth/applications', () => {
  let server: TestServer;
  let dev: Browser;

  const register = (body: unknown, browser = dev) => request(browser, 'POST', '/oauth/applications', { body });
  const created = async (body: unknown, browser = dev): Promise<RegisteredApp & Record<string, unknown>> => {
    const res = await register(body, browser);
    const text = await res.text();
    assert.equal(res.status, 201, text);
    return JSON.parse(text) as never;
  };
  const clientCredentials = (app: RegisteredApp, scope = 'read:users') =>
    token(server, app, { grant_type: 'client_credentials', scope });

  before(async () => {
    server = await startTestServer();
    dev = new Browser(server.url);
    await signUp(dev, uniqueEmail('dev'), PASSWORD);
  });
  after(() => server.dispose());

  it('registers the documented example application: 201, client_id, a lkcs_ secret shown once, type web', async () => {
    const res = await register(DOCUMENTED_BODY);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const app = (await res.json()) as Record<string, unknown>;
    assert.equal(typeof app['client_id'], 'string');
    assert.match(app['client_secret'] as string, /^lkcs_[0-9A-Za-z]{36}$/);
    assert.equal(app['type'], 'web');
    assert.equal(app['name'], 'My Application');
    assert.deepEqual(app['redirect_uris'], [REDIRECT_URI]);
    assert.deepEqual(app['scopes'], ['read:users', 'write:projects']);

    const got = await request(dev, 'GET', `/oauth/applications/${app['client_id']}`);
    assert.equal(got.status, 200);
    const view = (await got.json()) as Record<string, unknown>;
    assert.equal(view['client_id'], app['client_id']);
    assert.equal(view['client_secret'], undefined, 'the secret is never returned again');
    assert.ok(!JSON.stringify(view).includes(app['client_secret'] as string));

    const list = (await (await request(dev, 'GET', '/oauth/applications')).json()) as {
      data: Record<string, unknown>[];
    };
    const listed = list.data.find((a) => a['client_id'] === app['client_id']);
    assert.ok(listed, 'listed');
    assert.equal(listed['client_secret'], undefined);
  });

  it(
    'updates name and redirect URIs with PATCH, and deletes (then 403, as for any application not ' + 'yours)',
    async () => {
      const app = await created(DOCUMENTED_BODY);
      const res = await request(dev, 'PATCH', `/oauth/applications/${app.client_id}`, {
        body: {
          name: 'Renamed',
          redirect_uris: ['https://myapp.com/new-callback', 'http://127.0.0.1:8080/cb'],
        },
      });
      assert.equal(res.status, 200);
      const updated = (await res.json()) as Record<string, unknown>;
      assert.equal(updated['name'], 'Renamed');
      assert.deepEqual(updated['redirect_uris'], ['https://myapp.com/new-callback', 'http://127.0.0.1:8080/cb']);
      assert.equal(updated['client_secret'], undefined);
      const reread = (await (await request(dev, 'GET', `/oauth/applications/${app.client_id}`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(reread['name'], 'Renamed');

      await expectApiError(
        await request(dev, 'PATCH', `/oauth/applications/${app.client_id}`, {
          body: {
            redirect_uris: ['http://myapp.com/cb'],
          },
        }),
        400,
        'VALIDATION_FAILED',
        { field: 'redirect_uris.0' },
      );

      const del = await request(dev, 'DELETE', `/oauth/applications/${app.client_id}`);
      assert.equal(del.status, 204);
      await expectApiError(await request(dev, 'GET', `/oauth/applications/${app.client_id}`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      await expectApiError(await request(dev, 'DELETE', `/oauth/applications/${app.client_id}`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
    },
  );

  it("deleting an application ends its tokens' life", async () => {
    const service = await created({ name: 'Worker', type: 'service', redirect_uris: [], scopes: ['read:users'] });
    assert.equal(service['type'], 'service');
    const rs = await created({ name: 'Users API', type: 'resource_server', scopes: [] });

    const issued = await clientCredentials(service);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const accessToken = issued.body['access_token'] as string;
    assert.equal(issued.body['scope'], 'read:users');

    const before = await request(server, 'POST', '/oauth/introspect', {
      body: { token: accessToken },
      headers: { Authorization: basicAuth(rs) },
    });
    assert.equal(before.body['active'], true);
    assert.equal(before.body['client_id'], service.client_id);

    assert.equal((await request(dev, 'DELETE', `/oauth/applications/${service.client_id}`)).status, 204);

    const afterDelete = await request(server, 'POST', '/oauth/introspect', {
      body: { token: accessToken },
      headers: { Authorization: basicAuth(rs) },
    });
    assert.deepEqual(afterDelete.body, { active: false });
    const own = await request(server, 'POST', '/oauth/introspect', {
      body: { token: accessToken },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(own.status, 401);
    assert.equal(own.body['error'], 'invalid_client');
    const again = await clientCredentials(service);
    assert.equal(again.status, 401);
    assert.equal(again.body['error'], 'invalid_client');
  });

  it('rotates the secret: the old one is refused at /oauth/token, the new one works', async () => {
    const service = await created({ name: 'Rotating worker', type: 'service', scopes: ['read:users'] });
    assert.equal((await clientCredentials(service)).status, 200);

    const res = await request(dev, 'POST', `/oauth/applications/${service.client_id}/secret`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const rotated = (await res.json()) as RegisteredApp;
    assert.match(rotated.client_secret!, /^lkcs_[0-9A-Za-z]{36}$/);
    assert.notEqual(rotated.client_secret, service.client_secret);

    const old = await clientCredentials(service);
    assert.equal(old.status, 401);
    assert.equal(old.body['error'], 'invalid_client');
    const fresh = await clientCredentials({ client_id: service.client_id, client_secret: rotated.client_secret! });
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.ok(fresh.body['access_token']);
  });

  describe('validation: 400 VALIDATION_FAILED naming the field', () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'http redirect to a non-loopback host',
        { ...DOCUMENTED_BODY, redirect_uris: ['http://myapp.com/callback'] },
        'redirect_uris.0',
      ],
      [
        'a redirect URI with a fragment',
        { ...DOCUMENTED_BODY, redirect_uris: [REDIRECT_URI, 'https://myapp.com/cb#frag'] },
        'redirect_uris.1',
      ],
      ['a relative redirect URI', { ...DOCUMENTED_BODY, redirect_uris: ['/callback'] }, 'redirect_uris.0'],
      ['an unknown scope', { ...DOCUMENTED_BODY, scopes: ['read:users', 'read:everything'] }, 'scopes.1'],
      ['an unknown field', { ...DOCUMENTED_BODY, client_secret: 'mine' }, 'client_secret'],
      ['a missing name', { redirect_uris: DOCUMENTED_BODY.redirect_uris, scopes: DOCUMENTED_BODY.scopes }, 'name'],
      ['a web app without redirect URIs', { ...DOCUMENTED_BODY, redirect_uris: [] }, 'redirect_uris'],
      ['a service app with redirect URIs', { ...DOCUMENTED_BODY, type: 'service' }, 'redirect_uris'],
    ];
    for (const [what, body, field] of cases) {
      it(`refuses ${what}`, async () => {
        await expectApiError(await register(body), 400, 'VALIDATION_FAILED', { field });
      });
    }

    it('accepts http on loopback and a private-use scheme for native apps', async () => {
      const loopback = await created({
        ...DOCUMENTED_BODY,
        redirect_uris: ['http://127.0.0.1:8080/callback', 'http://localhost/callback'],
      });
      assert.deepEqual(loopback['redirect_uris'], ['http://127.0.0.1:8080/callback', 'http://localhost/callback']);
      const native = await created({ ...DOCUMENTED_BODY, type: 'native', redirect_uris: ['com.example.app:/cb'] });
      assert.equal(native['type'], 'native');
      assert.equal(native.client_secret, undefined, 'a public application has no secret');
      assert.deepEqual(native['redirect_uris'], ['com.example.app:/cb']);
    });

    it('refuses malformed JSON with 400 and an oversized body with 413, never 500', async () => {
      await expectApiError(await register('{"name": "My Application",'), 400, 'VALIDATION_FAILED');
      await expectApiError(await register('[1, 2]'), 400, 'VALIDATION_FAILED');
      await expectApiError(await register('null'), 400, 'VALIDATION_FAILED');
      await expectApiError(await register({ ...DOCUMENTED_BODY, name: 'x'.repeat(100_000) }), 413, 'PAYLOAD_TOO_LARGE');
      const app = await created(DOCUMENTED_BODY);
      await expectApiError(
        await request(dev, 'PATCH', `/oauth/applications/${app.client_id}`, { body: '{"name":' }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('PATCH cannot change the type; a public application has no secret to rotate', async () => {
      const app = await created(DOCUMENTED_BODY);
      await expectApiError(
        await request(dev, 'PATCH', `/oauth/applications/${app.client_id}`, { body: { type: 'service' } }),
        400,
        'VALIDATION_FAILED',
        { field: 'type' },
      );
      await expectApiError(
        await request(dev, 'PATCH', `/oauth/applications/${app.client_id}`, { body: { redirect_uris: [] } }),
        400,
        'VALIDATION_FAILED',
        { field: 'redirect_uris' },
      );
      const spa = await created({ ...DOCUMENTED_BODY, type: 'spa' });
      assert.equal(spa.client_secret, undefined);
      await expectApiError(
        await request(dev, 'POST', `/oauth/applications/${spa.client_id}/secret`),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('who may call', () => {
    it('admin:all needs an admin owner: 403 FORBIDDEN otherwise', async () => {
      await expectApiError(await register({ ...DOCUMENTED_BODY, scopes: ['admin:all'] }), 403, 'FORBIDDEN');
      const email = uniqueEmail('admin');
      await server.built.services.accounts.signUp({ email, password: PASSWORD, isAdmin: true }, BY_SYSTEM);
      const admin = new Browser(server.url);
      assert.equal((await signIn(admin, email, PASSWORD)).status, 303);
      const app = await created({ ...DOCUMENTED_BODY, scopes: ['admin:all'] }, admin);
      assert.deepEqual(app['scopes'], ['admin:all']);
    });

    it('no session: 401 UNAUTHORIZED with WWW-Authenticate: Bearer', async () => {
      const anonymous = new Browser(server.url);
      for (const res of [
        await register(DOCUMENTED_BODY, anonymous),
        await request(anonymous, 'GET', '/oauth/applications'),
      ]) {
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer(\s|$)/);
        assert.deepEqual(await res.json(), {
          error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
        });
      }
    });

    it("another user's application is 403 (the documented body) for every verb", async () => {
      const app = await created(DOCUMENTED_BODY);
      const other = new Browser(server.url);
      await signUp(other, uniqueEmail('other'), PASSWORD);
      const path = `/oauth/applications/${app.client_id}`;
      await expectApiError(await request(other, 'GET', path), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      await expectApiError(await request(other, 'PATCH', path, { body: { name: 'Mine now' } }), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      await expectApiError(await request(other, 'POST', `${path}/secret`), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      await expectApiError(await request(other, 'DELETE', path), 403, 'FORBIDDEN', {
        message: 'Insufficient permissions for this operation',
      });
      const list = (await (await request(other, 'GET', '/oauth/applications')).json()) as { data: unknown[] };
      assert.deepEqual(list.data, []);
      const still = (await (await request(dev, 'GET', path)).json()) as Record<string, unknown>;
      assert.equal(still['name'], 'My Application');
    });

    it('cookie-authenticated writes must be same-origin JSON', async () => {
      await expectApiError(
        await request(dev, 'POST', '/oauth/applications', {
          body: DOCUMENTED_BODY,
          headers: { origin: 'https://evil.example' },
        }),
        403,
        'FORBIDDEN',
      );
      const app = await created(DOCUMENTED_BODY);
      const path = `/oauth/applications/${app.client_id}`;
      await expectApiError(
        await request(dev, 'DELETE', path, { headers: { origin: 'https://evil.example' } }),
        403,
        'FORBIDDEN',
      );
      await expectApiError(
        await request(dev, 'POST', `${path}/secret`, { headers: { origin: 'https://evil.example' } }),
        403,
        'FORBIDDEN',
      );
      const plain = await dev.request('/oauth/applications', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify(DOCUMENTED_BODY),
      });
      await expectApiError(plain, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const form = await dev.postForm('/oauth/applications', { name: 'x' });
      await expectApiError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
      // Our own origin is fine.
      const same = await request(dev, 'POST', '/oauth/applications', {
        body: DOCUMENTED_BODY,
        headers: {
          origin: new URL(server.config.ISSUER).origin,
        },
      });
      assert.equal(same.status, 201);
    });

    it('a chunked (no Content-Length) text/plain body is 415 too', async () => {
      const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
        const req = http.request(
          `${server.url}/oauth/applications`,
          {
            method: 'POST',
            headers: { cookie: dev.jar.header(), 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve([res.statusCode!, body]));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(DOCUMENTED_BODY));
      });
      assert.equal(status, 415, text);
      assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('redirect URIs match exactly at /oauth/authorize', () => {
    for (const [what, uri] of [
      ['an extra path segment', `${REDIRECT_URI}/extra`],
      ['an added query string', `${REDIRECT_URI}?next=https://evil.example`],
      ['another host', 'https://evil.example/callback'],
    ]) {
      it(`refuses ${what} with an HTML error page, never redirecting to it`, async () => {
        const app = await created(DOCUMENTED_BODY);
        const res = await new Browser(server.url).get(
          authorizeUrl(server.url, { clientId: app.client_id, redirectUri: uri!, scope: 'read:users', state: 's' }),
        );
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        const html = await res.text();
        assert.match(html, /redirect_uri/);
        assert.doesNotMatch(html, /evil\.example|\/extra/);
      });
    }
  });
});
