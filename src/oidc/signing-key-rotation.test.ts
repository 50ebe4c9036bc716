// Rotating the signing keys from the console (or its API): the running server keeps signing with
// the key it loaded (it says so), every instance signs with the new key once restarted, and the
// tokens the old key signed keep verifying because the retired key stays published.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { credentialServerEnv, worldOn, type World } from '../../test/support/world.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { token } from '../../test/support/oauth.ts';

const kidOf = (jwt: string) =>
  (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('signing key rotation', () => {
  let server: TestServer;
  let world: World;
  before(async () => {
    server = await startTestServer({ env: { ...credentialServerEnv, ACCESS_TOKEN_FORMAT: 'jwt' } });
    world = worldOn(server);
  });
  after(() => server.dispose());

  it('signs with the new key after a restart; tokens of the old key still verify', async () => {
    const admin = await world.user({ admin: true });
    const adminKey = await world.apiKey(admin, ['admin:all']);
    const service = await world.serviceToken(admin, ['read:users']);
    const oldKid = kidOf(service.access_token);

    const rotated = await world.request('POST', '/v2/admin/signing-keys/rotate', { bearer: adminKey.key });
    assert.equal(rotated.status, 200);
    const newKid = String(rotated.body['kid']);
    assert.notEqual(newKid, oldKid);
    assert.equal(rotated.body['signs_after'], 'restart');
    // Until it restarts, this instance signs as before (what the console page says).
    const before = await token(server, service.app, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(kidOf(String(before.body['access_token'])), oldKid);

    server = await server.restart();
    world = worldOn(server);
    const after = await token(server, service.app, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(after.status, 200);
    assert.equal(kidOf(String(after.body['access_token'])), newKid, 'the new key signs');
    const jwks = (await (await fetch(`${server.url}/oauth/jwks`)).json()) as { keys: Array<{ kid: string }> };
    const published = jwks.keys.map((k) => k.kid);
    assert.ok(published.includes(newKid) && published.includes(oldKid), 'the retired key stays published');
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: service.access_token })).status, 200);
    assert.equal(
      (await world.request('GET', '/v2/auth/test', { bearer: String(after.body['access_token']) })).status,
      200,
    );

    // The browser's session is in the database: the restarted server still knows it.
    const page = await (await admin.browser.get('/admin/signing-keys')).text();
    assert.match(page, /Signs now/);
    assert.doesNotMatch(page, /Signs after the next restart/);
  });
});
