import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { loadConfig } from '../config.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { migrateToLatest, openDatabase, type DB } from './client.ts';
import { preparedRows } from './prepared.ts';

// A multi-row statement compiled once and run with rows (prepared.ts), on the test backend.
describe('preparedRows', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-prepared-rows-'));
  let database: TestDatabase;
  let db: DB;

  before(async () => {
    database = await createTestDatabase(dir);
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }));
    await migrateToLatest(db);
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  interface Pair {
    name: string;
    n: number;
  }
  // Each row's name appears twice in the statement (in the filter and in the CASE that maps it to n).
  const numbered = (size: number) =>
    preparedRows<Pair, { name: string; n: number }>(db, ['name', 'n'], size, (rows) =>
      db
        .selectFrom('server_secrets')
        .select([
          'name',
          sql<number>`case ${sql.join(
            rows.map((row) => sql`when ${sql.ref('name')} = ${row.name} then cast(${row.n} as integer)`),
            sql` `,
          )} end`.as('n'),
        ])
        .where((eb) => eb.or(rows.map((row) => eb('name', '=', row.name))))
        .orderBy('name'),
    );

  it('puts each row value in every place it appears, run after run with new rows', async () => {
    await db
      .insertInto('server_secrets')
      .values(['a', 'b', 'c', 'd'].map((name) => ({ name, value: 'x', created_at: 0 })))
      .execute();
    const run = numbered(2);
    const first = await run([
      { name: 'b', n: 2 },
      { name: 'a', n: 1 },
    ]);
    assert.deepEqual(first.rows, [
      { name: 'a', n: 1 },
      { name: 'b', n: 2 },
    ]);
    const second = await run([
      { name: 'c', n: 3 },
      { name: 'd', n: 4 },
    ]);
    assert.deepEqual(second.rows, [
      { name: 'c', n: 3 },
      { name: 'd', n: 4 },
    ]);
  });

  it('refuses rows of another count than it was compiled for', async () => {
    await assert.rejects(async () => numbered(2)([{ name: 'a', n: 1 }]), /1 rows for a statement of 2/);
  });
});
