import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresAdapter, sql } from 'kysely';
import { migrateTo, migrateToLatest, type DB } from '../../src/db/client.ts';
import { createApiKeysRepo } from '../../src/features/api-keys/api-keys.repo.ts';
import { openUnmigratedDatabase, testBackend } from '../support/database.ts';
import { activityRow, apiKeyRow, insertUser, T0 } from './rows.ts';

/**
 * Migration 0041 keeps API-key activity in (key_id, at, id) order: every entry written before it
 * stays, read page by page as before, and still goes with its key; the table has only the b-trees
 * its queries use.
 */
describe(`migration 0041 keys API-key activity by key (${testBackend})`, () => {
  let opened: Awaited<ReturnType<typeof openUnmigratedDatabase>>;
  let db: DB;
  before(async () => {
    opened = await openUnmigratedDatabase('latchkey-m0041-');
    db = opened.db;
  });
  after(() => opened.close());

  /** An entry with a readable id; those ending in 0 carry a client version. */
  const entry = (id: string, keyId: string, at: number, over: { path?: string } = {}) =>
    activityRow(keyId, at, { id, client_version: id.endsWith('0') ? 'sdk/2.0' : null, ...over });

  /** Each b-tree of the table: SQLite's own list, or PostgreSQL's indexes with their columns. */
  async function btrees(): Promise<string[]> {
    if (db.getExecutor().adapter instanceof PostgresAdapter) {
      const { rows } = await sql<{ d: string }>`
        select indexdef as d from pg_indexes where tablename = 'api_key_activity' order by indexname`.execute(db);
      return rows.map((r) =>
        r.d.replace(/^CREATE (UNIQUE )?INDEX (\w+) ON (public\.)?api_key_activity USING btree /, '$2 '),
      );
    }
    const { rows } = await sql<{ name: string; sql: string | null }>`
      select name, sql from sqlite_master where tbl_name = 'api_key_activity' order by name`.execute(db);
    return rows.map((r) => `${r.name}${/without rowid\s*$/i.test(r.sql ?? '') ? ' (without rowid)' : ''}`);
  }

  it('keeps every entry, pages it as before, and cascades with its key', async () => {
    assert.equal((await migrateTo(db, '0040_oidc_payloads_without_model')).error, undefined);
    const user = await insertUser(db);
    const [kept, dropped] = [apiKeyRow(user.id), apiKeyRow(user.id)];
    await db.insertInto('api_keys').values([kept, dropped]).execute();
    const before = [
      entry('a0', kept.id, T0 + 1),
      entry('a1', kept.id, T0 + 2, { path: '/v2/ünïcode/🔑' }),
      entry('a2', kept.id, T0 + 2),
      entry('a3', kept.id, T0 + 3),
      entry('b0', dropped.id, T0 + 1),
    ];
    await db.insertInto('api_key_activity').values(before).execute();

    await migrateToLatest(db);

    const all = await db.selectFrom('api_key_activity').selectAll().orderBy('id').execute();
    assert.deepEqual(
      all.map((r) => ({ ...r, at: Number(r.at) })),
      before,
    );
    const repo = createApiKeysRepo(db);
    // A page of `limit` answers one row more when more follow.
    const first = await repo.activityPage(kept.id, {}, { limit: 2 });
    assert.deepEqual(
      first.map((r) => r.id),
      ['a3', 'a2', 'a1'],
    );
    const older = await repo.activityPage(kept.id, {}, { limit: 5, older: { at: T0 + 2, id: 'a2' } });
    assert.deepEqual(
      older.map((r) => r.id),
      ['a1', 'a0'],
    );
    await db.deleteFrom('api_keys').where('id', '=', dropped.id).execute();
    assert.deepEqual(
      (await db.selectFrom('api_key_activity').select('id').where('key_id', '=', dropped.id).execute()).length,
      0,
    );
    // New entries go in as before, through the batch.
    assert.equal(await repo.recordUsage([entry('c0', kept.id, T0 + 4)]), 1);
    assert.equal((await repo.activity(kept.id, 10)).length, 5);
  });

  it('has the key-ordered rows and the sweep index, and nothing else', async () => {
    const expected =
      testBackend === 'postgres'
        ? ['api_key_activity_at (at)', 'api_key_activity_pkey (key_id, at, id)']
        : ['api_key_activity (without rowid)', 'api_key_activity_at'];
    assert.deepEqual(await btrees(), expected);
  });

  it('goes back to rows by id, every entry kept, and forward again', async () => {
    const count = async () =>
      Number(
        (
          await db
            .selectFrom('api_key_activity')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const entries = await count();
    assert.equal((await migrateTo(db, '0040_oidc_payloads_without_model')).error, undefined);
    assert.equal(await count(), entries);
    const expected =
      testBackend === 'postgres'
        ? ['api_key_activity_at (at)', 'api_key_activity_key_at_id (key_id, at, id)', 'api_key_activity_pkey (id)']
        : [
            'api_key_activity',
            'api_key_activity_at',
            'api_key_activity_key_at_id',
            'sqlite_autoindex_api_key_activity_1',
          ];
    assert.deepEqual(await btrees(), expected);
    await migrateToLatest(db);
    assert.equal(await count(), entries);
  });
});
