import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../../test/support/server.ts';
import { request, startWorld, type World, type TestUser } from '../../../test/support/world.ts';

// Testing a credential: each credential method reaches /v2/auth/test.
describe('GET /v2/auth/test (testing a credential)', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;

  before(async () => {
    make = await startWorld();
    server = make.server;
    alice = await make.user();
  });
  after(() => server.dispose());

  it('answers for an API key', async () => {
    const { key } = await make.apiKey(alice, ['read:users']);
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: key });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      valid: true,
      method: 'api_key',
      subject: alice.id,
      scopes: ['read:users'],
      expires_at: null,
    });
    assert.equal(res.headers.get('x-api-version'), '2.0');
  });

  it('answers for an OAuth access token from the browser flow', async () => {
    const { access_token } = await make.oauthToken(alice, ['read:users', 'write:projects']);
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: access_token });
    assert.equal(res.status, 200);
    assert.equal(res.body!['method'], 'oauth');
    assert.equal(res.body!['subject'], alice.id);
    assert.deepEqual(res.body!['scopes'], ['read:users', 'write:projects']);
    assert.ok(Date.parse(String(res.body!['expires_at'])) > Date.now());
  });

  it('answers for a shared-secret JWT signed as documented', async () => {
    const token = make.jwt({ sub: 'user_123', scopes: ['read:all', 'write:own'], name: 'John Doe' });
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: token });
    assert.equal(res.status, 200);
    assert.equal(res.body!['method'], 'jwt');
    assert.equal(res.body!['subject'], 'user_123');
    assert.deepEqual(res.body!['scopes'], ['read:all', 'write:own']);
  });

  it('refuses a missing or bad credential with the documented 401 body', async () => {
    for (const token of [undefined, 'not-a-token', 'lk_abc_def']) {
      const res = await request(server, 'GET', '/v2/auth/test', { bearer: token });
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, {
        error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
      });
      assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
    }
  });
});
