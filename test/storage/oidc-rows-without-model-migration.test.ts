import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateTo, migrateToLatest, type DB } from '../../src/db/client.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import { openUnmigratedDatabase, testBackend } from '../support/database.ts';

/**
 * Migration 0040 on a database a bundle without oidc-provider's class names wrote to: its rows,
 * stored under the model name '' and without an expiry, go; every row of a named model stays.
 */
describe(`migration 0040 removes oidc rows stored without a model name (${testBackend})`, () => {
  let opened: Awaited<ReturnType<typeof openUnmigratedDatabase>>;
  let db: DB;
  before(async () => {
    opened = await openUnmigratedDatabase('latchkey-m0040-');
    db = opened.db;
  });
  after(() => opened.close());

  it("deletes the rows of model '' and keeps the others", async () => {
    assert.equal((await migrateTo(db, '0039_rate_limits_unlogged')).error, undefined);
    const row = (type: string, id: string, expires_at: number | null) => ({
      type,
      id_hash: sha256(id),
      payload: '{}',
      grant_id_hash: null,
      client_id: null,
      uid_hash: null,
      user_code_hash: null,
      expires_at,
      consumed_at: null,
      account_id: null,
    });
    await db
      .insertInto('oidc_payloads')
      .values([row('', 'nameless-token', null), row('', 'nameless-session', null), row('AccessToken', 'named', 1)])
      .execute();

    await migrateToLatest(db);

    const left = await db.selectFrom('oidc_payloads').select(['type', 'id_hash']).execute();
    assert.deepEqual(left, [{ type: 'AccessToken', id_hash: sha256('named') }]);
  });
});
