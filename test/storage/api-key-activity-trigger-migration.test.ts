import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresAdapter, sql } from 'kysely';
import { migrateTo, migrateToLatest, type DB } from '../../src/db/client.ts';
import { createAccountsRepo } from '../../src/features/accounts/accounts.repo.ts';
import { createApiKeysRepo } from '../../src/features/api-keys/api-keys.repo.ts';
import { openUnmigratedDatabase, testBackend } from '../support/database.ts';
import { activityRow, apiKeyRow, insertUser, T0 } from './rows.ts';

/**
 * Migration 0042 takes the per-row foreign key off API-key activity: every entry written before it
 * stays, a key's activity still goes with the key (deleted alone or with its account), and going
 * back puts the reference in again.
 */
describe(`migration 0042 drops the activity's foreign key for a trigger (${testBackend})`, () => {
  let opened: Awaited<ReturnType<typeof openUnmigratedDatabase>>;
  let db: DB;
  before(async () => {
    opened = await openUnmigratedDatabase('latchkey-m0042-');
    db = opened.db;
  });
  after(() => opened.close());

  /** The tables api_key_activity references: PostgreSQL's constraints, or SQLite's own list. */
  async function references(): Promise<string[]> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      const { rows } = await sql<{ t: string }>`
        select confrelid::regclass::text as t from pg_constraint
        where conrelid = 'api_key_activity'::regclass and contype = 'f'`.execute(db);
      return rows.map((r) => r.t);
    }
    const { rows } = await sql<{
      table: string;
    }>`select "table" from pragma_foreign_key_list('api_key_activity')`.execute(db);
    return rows.map((r) => r.table);
  }
  const entriesOf = async (keyId: string) =>
    (await db.selectFrom('api_key_activity').select('id').where('key_id', '=', keyId).orderBy('id').execute()).map(
      (r) => r.id,
    );

  it('keeps every entry, and a key still takes its activity with it, alone or with its account', async () => {
    assert.equal((await migrateTo(db, '0041_api_key_activity_keyed_by_key')).error, undefined);
    assert.deepEqual(await references(), ['api_keys']);
    const [user, other] = [await insertUser(db), await insertUser(db)];
    const [first, second, others] = [apiKeyRow(user.id), apiKeyRow(user.id), apiKeyRow(other.id)];
    await db.insertInto('api_keys').values([first, second, others]).execute();
    await db
      .insertInto('api_key_activity')
      .values([
        activityRow(first.id, T0 + 1, { id: 'a1' }),
        activityRow(first.id, T0 + 2, { id: 'a2', path: '/v2/ünïcode/🔑', client_version: 'sdk/2.0' }),
        activityRow(second.id, T0 + 1, { id: 'b1' }),
        activityRow(others.id, T0 + 1, { id: 'c1' }),
      ])
      .execute();

    await migrateToLatest(db);

    assert.deepEqual(await references(), []);
    const kept = await db
      .selectFrom('api_key_activity')
      .select(['id', 'path', 'client_version'])
      .orderBy('id')
      .execute();
    assert.deepEqual(kept, [
      { id: 'a1', path: '/v2/auth/test', client_version: null },
      { id: 'a2', path: '/v2/ünïcode/🔑', client_version: 'sdk/2.0' },
      { id: 'b1', path: '/v2/auth/test', client_version: null },
      { id: 'c1', path: '/v2/auth/test', client_version: null },
    ]);
    // The batch still writes only for keys that exist: nothing references them to refuse the rest.
    const repo = createApiKeysRepo(db);
    assert.equal(
      await repo.recordUsage([activityRow(second.id, T0 + 3, { id: 'b2' }), activityRow('key_never', T0 + 3)]),
      1,
    );
    assert.deepEqual(await entriesOf('key_never'), []);

    await db.deleteFrom('api_keys').where('id', '=', first.id).execute();
    assert.deepEqual(await entriesOf(first.id), []);
    assert.deepEqual(await entriesOf(second.id), ['b1', 'b2']);

    await createAccountsRepo(db).delete(user.id);
    assert.deepEqual(await entriesOf(second.id), []);
    assert.deepEqual(await entriesOf(others.id), ['c1']);
  });

  it('goes back to the reference, leaving out entries of keys already gone, and forward again', async () => {
    // An entry no key owns, as a write outside the batch could leave one now.
    await db
      .insertInto('api_key_activity')
      .values(activityRow('key_gone', T0, { id: 'z1' }))
      .execute();
    assert.equal((await migrateTo(db, '0041_api_key_activity_keyed_by_key')).error, undefined);
    assert.deepEqual(await references(), ['api_keys']);
    assert.deepEqual(
      (await db.selectFrom('api_key_activity').select('id').orderBy('id').execute()).map((r) => r.id),
      ['c1'],
    );
    await migrateToLatest(db);
    assert.deepEqual(await references(), []);
    const others = await db.selectFrom('api_key_activity').select('key_id').executeTakeFirstOrThrow();
    await db.deleteFrom('api_keys').where('id', '=', others.key_id).execute();
    assert.deepEqual(await entriesOf(others.key_id), []);
  });
});
