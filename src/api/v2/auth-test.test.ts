import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import {
  api,
  credentialFactory,
  credentialServerEnv,
  type CredentialFactory,
  type TestUser,
} from '../../../test/support/credentials.ts';

// Testing a credential: each credential method reaches /v2/auth/test.
describe('GET /v2/auth/test (testing a credential)', () => {
  let server: TestServer;
  let make: CredentialFactory;
  let alice: TestUser;

  before(async () => {
    server = await startTestServer({ env: credentialServerEnv });
    make = credentialFactory(server);
    alice = await make.user();
  });
  after(() => server.dispose());

  it('answers for an API key', async () => {
    const { key } = await make.apiKey(alice, ['read:users']);
    const res = await api(server, 'GET', '/v2/auth/test', key);
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
    const res = await api(server, 'GET', '/v2/auth/test', access_token);
    assert.equal(res.status, 200);
    assert.equal(res.body!['method'], 'oauth');
    assert.equal(res.body!['subject'], alice.id);
    assert.deepEqual(res.body!['scopes'], ['read:users', 'write:projects']);
    assert.ok(Date.parse(String(res.body!['expires_at'])) > Date.now());
  });

  it('answers for a shared-secret JWT signed as documented', async () => {
    const token = make.jwt({ sub: 'user_123', scopes: ['read:all', 'write:own'], name: 'John Doe' });
    const res = await api(server, 'GET', '/v2/auth/test', token);
    assert.equal(res.status, 200);
    assert.equal(res.body!['method'], 'jwt');
    assert.equal(res.body!['subject'], 'user_123');
    assert.deepEqual(res.body!['scopes'], ['read:all', 'write:own']);
  });

  it('refuses a missing or bad credential with the documented 401 body', async () => {
    for (const token of [undefined, 'not-a-token', 'lk_abc_def']) {
      const res = await api(server, 'GET', '/v2/auth/test', token);
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, {
        error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
      });
      assert.match(res.headers.get('www-authenticate')!, /^Bearer/);
    }
  });
});
