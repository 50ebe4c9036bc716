import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../../test/support/server.ts';
import { request, startWorld, type TestUser, type World } from '../../../test/support/world.ts';

// What an instance remembers of an API key, seen from outside: a change written to the database
// by no request of this instance (so no event evicts anything) shows at once for a key it read
// from the database, and only after CREDENTIAL_CACHE_TTL for a key it remembers. A key is
// remembered from its second read on, so keys presented once each never push out a key in use.

describe('which API keys an instance remembers', () => {
  let server: TestServer;
  let make: World;
  let owner: TestUser;
  let clock = Date.now();

  before(async () => {
    make = await startWorld({ now: () => clock });
    server = make.server;
    owner = await make.user({ tag: 'key-cache' });
  });
  after(() => server.dispose());

  const status = async (key: string) => (await request(server, 'GET', '/v2/auth/test', { bearer: key })).status;
  /** Revoked in the database behind the instance's back: no event tells it. */
  const revokeUnheard = (id: string) =>
    server.db.updateTable('api_keys').set({ revoked_at: clock }).where('id', '=', id).execute();

  it('a key presented once is read again the next time', async () => {
    const { id, key } = await make.apiKey(owner, ['read:users']);
    assert.equal(await status(key), 200);
    await revokeUnheard(id);
    assert.equal(await status(key), 401, 'the revocation is seen at once: the key was not kept');
  });

  it('a key read a second time is remembered for the cache time, then read again', async () => {
    const { id, key } = await make.apiKey(owner, ['read:users']);
    assert.equal(await status(key), 200);
    assert.equal(await status(key), 200);
    await revokeUnheard(id);
    assert.equal(await status(key), 200, 'remembered: the database is not asked within the cache time');
    clock += server.config.CREDENTIAL_CACHE_TTL * 1000;
    assert.equal(await status(key), 401, 'read again once the cache time is over');
  });

  it('an event still evicts a remembered key at once', async () => {
    const { id, key } = await make.apiKey(owner, ['read:users']);
    assert.equal(await status(key), 200);
    assert.equal(await status(key), 200);
    const revoked = await request(owner.browser, 'DELETE', `/v2/api-keys/${id}`);
    assert.equal(revoked.status, 200);
    assert.equal(await status(key), 401);
  });
});
