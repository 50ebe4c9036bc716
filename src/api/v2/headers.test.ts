import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../../test/support/server.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { startWorld, type World, type TestUser } from '../../../test/support/world.ts';

// The documented request headers and the /v2 error model.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe('/v2 headers: X-Request-ID, X-API-Version, X-Client-Version; errors', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let key: string;

  const get = (path: string, headers: Record<string, string> = {}, token: string | null = key) =>
    fetch(`${server.url}${path}`, { headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers } });
  const send = (method: string, path: string, rawBody: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
      body: rawBody,
    });

  before(async () => {
    make = await startWorld();
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    key = (await make.apiKey(alice, ['read:users', 'read:projects', 'write:projects'])).key;
  });
  after(() => server.dispose());

  describe('X-Request-ID', () => {
    it('is echoed when well-formed', async () => {
      for (const id of ['unique-request-id', 'abc123', '4f2c1d7e-9a0b-4c3d-8e5f-6a7b8c9d0e1f', 'trace:span.1_2']) {
        const res = await get('/v2/auth/test', { 'X-Request-ID': id });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-request-id'), id);
      }
    });

    it('is generated (a UUID) when absent, and differs per request', async () => {
      const a = await get('/v2/auth/test');
      const b = await get('/v2/auth/test');
      assert.match(a.headers.get('x-request-id') ?? '', UUID);
      assert.match(b.headers.get('x-request-id') ?? '', UUID);
      assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
    });

    it('is replaced by a generated UUID when malformed', async () => {
      for (const bad of [
        'has spaces in it',
        'x'.repeat(129),
        '<script>alert(1)</script>',
        'id;drop',
        'ünïcödé',
        'a\tb',
      ]) {
        const res = await get('/v2/auth/test', { 'X-Request-ID': encodeHeader(bad) });
        assert.equal(res.status, 200);
        const id = res.headers.get('x-request-id') ?? '';
        assert.match(id, UUID, `${JSON.stringify(bad)} -> ${id}`);
      }
    });

    it('is on error responses too (401, 404, 400), echoed or generated', async () => {
      const unauth = await get('/v2/auth/test', { 'X-Request-ID': 'err-401' }, null);
      assert.equal(unauth.status, 401);
      assert.equal(unauth.headers.get('x-request-id'), 'err-401');
      const missing = await get('/v2/no-such-thing', {});
      assert.equal(missing.status, 404);
      assert.match(missing.headers.get('x-request-id') ?? '', UUID);
      const bad = await send('POST', '/v2/projects', '{', { 'X-Request-ID': 'err-400' });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('x-request-id'), 'err-400');
    });
  });

  describe('X-API-Version', () => {
    it('answers 2.0 on success and on errors (401, 403, 400, 404 of a resource)', async () => {
      const ok = await get('/v2/auth/test');
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('x-api-version'), '2.0');
      const unauth = await get('/v2/auth/test', {}, null);
      assert.equal(unauth.status, 401);
      assert.equal(unauth.headers.get('x-api-version'), '2.0');
      const forbidden = await get('/v2/users/whoever', {}, (await make.apiKey(alice, ['read:projects'])).key);
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.headers.get('x-api-version'), '2.0');
      const invalid = await send('POST', '/v2/projects', JSON.stringify({ name: 5 }));
      assert.equal(invalid.status, 400);
      assert.equal(invalid.headers.get('x-api-version'), '2.0');
      // Only admin:all is told a resource does not exist (anyone else gets 403 for it).
      const admin = (await make.apiKey(await make.user({ admin: true, tag: 'admin' }), ['admin:all'])).key;
      const noProject = await get('/v2/projects/prj_doesnotexist', {}, admin);
      assert.equal(noProject.status, 404);
      assert.equal(noProject.headers.get('x-api-version'), '2.0');
    });

    it('accepts a request for 2.0', async () => {
      const res = await get('/v2/auth/test', { 'X-API-Version': '2.0' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-api-version'), '2.0');
    });

    it('refuses X-API-Version: 1.0 with 400 VALIDATION_FAILED naming the supported 2.0', async () => {
      for (const asked of ['1.0', '3.0', 'latest']) {
        const res = await get('/v2/auth/test', { 'X-API-Version': asked });
        assert.equal(res.headers.get('x-api-version'), '2.0');
        const body = await expectApiError(res, 400, 'VALIDATION_FAILED');
        assert.match(body.error.message, /2\.0/, body.error.message);
      }
    });
  });

  it('the documented request headers sent together work', async () => {
    const res = await fetch(`${server.url}/v2/auth/test`, {
      headers: {
        Authorization: `Bearer ${key}`,
        'X-API-Version': '2.0',
        'X-Request-ID': 'unique-request-id',
        'X-Client-Version': '1.0.0',
      },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'unique-request-id');
    assert.equal(res.headers.get('x-api-version'), '2.0');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body['valid'], true);
    assert.equal(body['method'], 'api_key');
  });

  describe('errors', () => {
    it('a validation error names the field: POST /v2/projects {"name": 5} -> 400 field name', async () => {
      const body = await expectApiError(
        await send('POST', '/v2/projects', JSON.stringify({ name: 5 })),
        400,
        'VALIDATION_FAILED',
        { field: 'name' },
      );
      assert.match(body.error.message, /name/);
      await expectApiError(await send('POST', '/v2/projects', JSON.stringify({})), 400, 'VALIDATION_FAILED', {
        field: 'name',
      });
      await expectApiError(
        await send('POST', '/v2/projects', JSON.stringify({ name: 'ok', description: 7 })),
        400,
        'VALIDATION_FAILED',
        { field: 'description' },
      );
    });

    it('malformed JSON is 400 VALIDATION_FAILED, not 500', async () => {
      for (const raw of ['{', '{"name": }', 'not json', '{"name":"a",}']) {
        await expectApiError(await send('POST', '/v2/projects', raw), 400, 'VALIDATION_FAILED');
      }
    });

    it('an unknown /v2 path is 404 JSON in the error model, with the /v2 headers', async () => {
      for (const path of ['/v2/no-such-thing', '/v2/projects/x/y/z', '/v2']) {
        const res = await get(path, { 'X-Request-ID': 'nf-1' });
        assert.equal(res.headers.get('x-request-id'), 'nf-1', path);
        assert.equal(res.headers.get('x-api-version'), '2.0', `${path}: X-API-Version on a /v2 404`);
        await expectApiError(res, 404, 'NOT_FOUND');
      }
      // Also without credentials: still JSON, never an HTML page.
      const anon = await get('/v2/no-such-thing', { Accept: 'text/html' }, null);
      assert.ok([401, 404].includes(anon.status), String(anon.status));
      assert.match(anon.headers.get('content-type') ?? '', /application\/json/);
    });

    it('a 401 carries the documented body and WWW-Authenticate: Bearer', async () => {
      const res = await get('/v2/auth/test', {}, null);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      await expectApiError(res, 401, 'UNAUTHORIZED', { message: 'Invalid or missing authentication credentials' });
    });
  });
});

/** Header values must be ByteStrings for fetch: send non-Latin-1 text as its UTF-8 bytes. */
function encodeHeader(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}
