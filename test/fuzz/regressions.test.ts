/**
 * The bugs the fuzz suite found, pinned as plain tests (no generator, no seed): each one answered
 * 5xx, reset the connection, or answered outside the endpoint's format before its fix.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startTestServer, type TestServer } from '../support/server.ts';
import { rawExchange, send } from './kit.ts';
import { worldOn, credentialServerEnv } from '../support/world.ts';

describe('fuzz regressions', () => {
  let server: TestServer;
  let key = '';
  let projectId = '';

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    const f = worldOn(server);
    const admin = await f.user({ admin: true, tag: 'fuzz-regress' });
    key = (await f.apiKey(admin, ['admin:all'])).key;
    const res = await send(server.port, {
      method: 'POST',
      path: '/v2/projects',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"name":"p"}',
    });
    projectId = (JSON.parse(res.text) as { id: string }).id;
  });
  after(() => server.dispose());

  const auth = () => ({ authorization: `Bearer ${key}` });

  it(
    'answers a request target the URL parser cannot read (absolute form with a broken host) ' + 'with 400, not 500',
    async () => {
      for (const target of ['http://[bad/v2/auth/test', 'http://[::1/oauth/token', 'http://a b/']) {
        const answer = await rawExchange(
          server.port,
          `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
        );
        assert.equal(answer.status, 400, `${target}: ${answer.text.slice(0, 200)}`);
      }
    },
  );

  it(
    'answers a 1 MB body at /oauth/token, /oauth/introspect and /login with 413, ' + 'never a connection reset',
    async () => {
      // Before: the JSON/form shim left a `for await` early, which destroyed the request and the socket.
      for (let i = 0; i < 5; i++) {
        for (const [path, type] of [
          ['/oauth/token', 'application/x-www-form-urlencoded'],
          ['/oauth/introspect', 'application/x-www-form-urlencoded'],
          ['/oauth/token', 'application/json'],
          ['/login', 'application/x-www-form-urlencoded'],
        ] as const) {
          const body =
            type === 'application/json' ? JSON.stringify({ a: 'x'.repeat(1 << 20) }) : `a=${'x'.repeat(1 << 20)}`;
          const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
          assert.equal(res.status, 413, path);
          await res.arrayBuffer();
        }
      }
    },
  );

  it(
    'answers a method a route does not have with 405 in the endpoint format ' + '(JSON for APIs, a page for browsers)',
    async () => {
      // Before: the routers' allowedMethods() answered a bare text/plain "Method Not Allowed" (and 501 for PROPFIND).
      for (const method of ['PUT', 'PROPFIND']) {
        const api = await send(server.port, { method, path: '/v2/projects', headers: auth() });
        assert.equal(api.status, 405);
        assert.deepEqual(JSON.parse(api.text), {
          error: { code: 'METHOD_NOT_ALLOWED', message: `Method ${method} is not allowed here` },
        });
        const page = await send(server.port, { method, path: '/login', headers: { accept: 'text/html' } });
        assert.equal(page.status, 405);
        assert.match(String(page.headers['content-type']), /^text\/html/);
      }
    },
  );

  it('refuses text with a NUL character with 400 on every backend (PostgreSQL answered 500)', async () => {
    const post = await send(server.port, {
      method: 'POST',
      path: '/v2/projects',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'a\u0000b' }),
    });
    assert.equal(post.status, 400);
    assert.equal((JSON.parse(post.text) as { error: { code: string } }).error.code, 'VALIDATION_FAILED');
    const get = await send(server.port, { method: 'GET', path: '/v2/projects/prj%00x', headers: auth() });
    assert.equal(get.status, 400);
    // A client id with NUL names no client: RFC 6749's invalid_client, not a server error.
    const token = await send(server.port, {
      method: 'POST',
      path: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=a%00b&client_secret=x',
    });
    assert.equal(token.status, 401);
    assert.equal((JSON.parse(token.text) as { error: string }).error, 'invalid_client');
    const revoke = await send(server.port, {
      method: 'POST',
      path: '/oauth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x&client_id=a%00b&client_secret=x',
    });
    assert.ok(revoke.status >= 400 && revoke.status < 500, revoke.text);
  });

  it('answers a body that does not inflate (Content-Encoding gzip or br over garbage) with 400, not 500', async () => {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await send(server.port, {
        method: 'POST',
        path: '/v2/projects',
        headers: { ...auth(), 'content-type': 'application/json', 'content-encoding': encoding },
        body: Buffer.from('not compressed'),
      });
      assert.equal(res.status, 400, encoding);
    }
    const bomb = await send(server.port, {
      method: 'POST',
      path: '/v2/projects',
      headers: { ...auth(), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: zlib.gzipSync(Buffer.alloc(20 << 20, 0x20)),
    });
    assert.equal(bomb.status, 413);
  });

  it('keeps the Location of a sign-in redirect under the 16 KiB a client accepts, however long the URL', async () => {
    // Before: /settings/...?<15 KB> came back as Location: /login?return_to=<the URL, encoded again> (25 KB+).
    const long = `/settings/api-keys?q=${'%25'.repeat(5_000)}`;
    const res = await send(server.port, { method: 'GET', path: long, headers: { accept: 'text/html' } });
    assert.equal(res.status, 302);
    assert.ok(
      String(res.headers['location']).length < 4_000,
      `Location of ${String(res.headers['location']).length} characters`,
    );
    const login = await send(server.port, {
      method: 'GET',
      path: `/login?return_to=/${'a'.repeat(3_000)}`,
      headers: { accept: 'text/html' },
    });
    assert.equal(login.status, 200);
    assert.ok(!login.text.includes('a'.repeat(3_000)), 'an over-long return_to is dropped');
  });

  it(
    'refuses a body that is not JSON on a JSON route with 415, ' +
      'instead of reading it as {} (a PATCH "succeeded" doing nothing)',
    async () => {
      const res = await send(server.port, {
        method: 'PATCH',
        path: `/v2/projects/${projectId}`,
        headers: { ...auth(), 'content-type': 'text/plain' },
        body: '{"name":"renamed"}',
      });
      assert.equal(res.status, 415);
      assert.equal((JSON.parse(res.text) as { error: { code: string } }).error.code, 'UNSUPPORTED_MEDIA_TYPE');
      const json = await send(server.port, {
        method: 'PATCH',
        path: `/v2/projects/${projectId}`,
        headers: { ...auth(), 'content-type': 'application/json' },
        body: '{"name":"renamed"}',
      });
      assert.equal(json.status, 200);
    },
  );
});
