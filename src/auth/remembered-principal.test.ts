import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../test/support/server.ts';
import { request, startWorld, type World } from '../../test/support/world.ts';

// A remembered credential keeps its principal across requests only while its account's rights are
// the ones it was made with: rights read again (their cache entry expired) give a new principal.

describe('a remembered credential answers with the rights its account holds now', () => {
  let server: TestServer;
  let make: World;
  let clock = Date.now();

  before(async () => {
    make = await startWorld({ now: () => clock });
    server = make.server;
  });
  after(() => server.dispose());

  const scopesOf = async (token: string) => {
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body!['scopes'];
  };

  it('a JWT still remembered, after its account lost admin where this instance heard nothing of it', async () => {
    const ttlMs = server.config.CREDENTIAL_CACHE_TTL * 1000;
    const admin = await make.user({ admin: true, tag: 'remembered-admin' });
    const key = (await make.apiKey(admin, ['admin:all'])).key;
    const jwt = make.jwt({ sub: admin.id, scopes: ['admin:all'] });
    // The account's rights are remembered from now, the JWT from a little later: the rights expire first.
    assert.deepEqual(await scopesOf(key), ['admin:all']);
    clock += ttlMs / 2;
    assert.deepEqual(await scopesOf(jwt), ['admin:all']);
    assert.deepEqual(await scopesOf(jwt), ['admin:all'], 'the same JWT again, from what is remembered');
    // Demoted in the database by no request of this instance (no event): seen once the rights expire.
    await server.db.updateTable('users').set({ is_admin: 0 }).where('id', '=', admin.id).execute();
    clock += ttlMs / 2 + 1;
    assert.deepEqual(await scopesOf(jwt), [], 'the remembered JWT holds what the account may hold now');
  });
});
