import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { createPostgresPool, openDatabase, migrateToLatest, type DB } from './client.ts';
import { databaseTargetOf } from '../config.ts';
import { withStatementCache } from './statement-cache.ts';
import { createTestDatabase, testBackend, type TestDatabase } from '../../test/support/database.ts';
import { ValidationError } from '../domain/errors.ts';
import { toAppError } from '../http/domain-errors.ts';
import { asyncCommitOf } from './async-commit.ts';

describe(`database layer (${testBackend})`, () => {
  let dir: string;
  let testDb: TestDatabase;
  let db: DB;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-db-'));
    testDb = await createTestDatabase(dir);
    db = openDatabase({ database: databaseTargetOf(testDb.url) });
    await migrateToLatest(db);
  });
  after(async () => {
    await db.destroy();
    await testDb.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses NUL in a bound value with 400 VALIDATION_FAILED, and a transaction leaves nothing behind', async () => {
    await db.insertInto('server_secrets').values({ name: 'plain', value: 'v', created_at: 1 }).execute();
    await assert.rejects(
      db.insertInto('server_secrets').values({ name: 'bad', value: 'a\u0000b', created_at: 1 }).execute(),
      (err: unknown) =>
        err instanceof ValidationError &&
        toAppError(err)?.status === 400 &&
        toAppError(err)?.code === 'VALIDATION_FAILED',
    );
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('server_secrets').values({ name: 'first', value: 'ok', created_at: 1 }).execute();
        await trx.insertInto('server_secrets').values({ name: 'second', value: '\u0000', created_at: 1 }).execute();
      }),
      ValidationError,
    );
    const names = (await db.selectFrom('server_secrets').select('name').orderBy('name').execute()).map((r) => r.name);
    assert.deepEqual(names, ['plain']);
    // A NUL in a where clause is refused too (a lookup by a hostile id), not sent to the database.
    await assert.rejects(
      db.selectFrom('server_secrets').selectAll().where('name', '=', 'x\u0000').execute(),
      ValidationError,
    );
    await assert.rejects(sql`select ${'\u0000'} as v`.execute(db), ValidationError);
  });

  it('answers the same query many times with fresh values (statements are reused, never their results)', async () => {
    for (let i = 0; i < 5; i++) {
      await db
        .insertInto('server_secrets')
        .values({ name: `n${i}`, value: `v${i}`, created_at: i })
        .execute();
    }
    for (let i = 0; i < 5; i++) {
      const found = await db
        .selectFrom('server_secrets')
        .select(['value', 'created_at'])
        .where('name', '=', `n${i}`)
        .executeTakeFirst();
      assert.deepEqual(found, { value: `v${i}`, created_at: i });
    }
    const updated = await db
      .updateTable('server_secrets')
      .set({ value: 'changed' })
      .where('name', 'like', 'n%')
      .executeTakeFirst();
    assert.equal(Number(updated.numUpdatedRows), 5);
    const again = await db
      .selectFrom('server_secrets')
      .select('value')
      .where('name', '=', 'n3')
      .executeTakeFirstOrThrow();
    assert.equal(again.value, 'changed');
  });

  it("keeps answering a reused query after another instance's migration adds a column to its table", async () => {
    // On PostgreSQL the query is a prepared statement by now; a `SELECT *` prepared before the
    // change would fail ("cached plan must not change result type") if it were run as it was.
    const probe = db as unknown as Kysely<{ stale_probe: { id: string; a: string; b?: string } }>;
    await sql`create table stale_probe (id text primary key, a text not null)`.execute(db);
    await sql`insert into stale_probe (id, a) values ('one', 'first')`.execute(db);
    const read = () => probe.selectFrom('stale_probe').selectAll().where('id', '=', 'one').executeTakeFirst();
    for (let i = 0; i < 3; i++) assert.deepEqual(await read(), { id: 'one', a: 'first' });
    const other = openDatabase({ database: databaseTargetOf(testDb.url) });
    try {
      await sql`alter table stale_probe add column b text not null default 'added'`.execute(other);
    } finally {
      await other.destroy();
    }
    for (let i = 0; i < 3; i++) assert.deepEqual(await read(), { id: 'one', a: 'first', b: 'added' });
    await sql`drop table stale_probe`.execute(db);
  });

  if (testBackend === 'postgres') {
    it('keeps an idle PostgreSQL connection through a pause of a minute, and closes it after five', async () => {
      mock.timers.enable({ apis: ['setTimeout'] });
      const pool = createPostgresPool(testDb.url, 2);
      try {
        const backend = async () => (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
        const first = await backend();
        mock.timers.tick(60_000);
        assert.equal(pool.idleCount, 1);
        assert.equal(await backend(), first, 'the same backend answers after the pause');
        mock.timers.tick(5 * 60_000);
        assert.equal(pool.totalCount, 0);
      } finally {
        mock.timers.reset();
        await pool.end();
      }
    });

    it('commits through the async-commit handle without the flush wait, and every other write with it', async () => {
      const setting = async (on: DB) =>
        (await sql<{ value: string }>`select current_setting('synchronous_commit') as value`.execute(on)).rows[0]!
          .value;
      assert.equal(await setting(db), 'on');
      assert.equal(await setting(asyncCommitOf(db)), 'off');
      assert.notEqual(asyncCommitOf(db), db);
    });

    it('closes both pools when the database is destroyed', async () => {
      const other = openDatabase({ database: databaseTargetOf(testDb.url) });
      const name = new URL(testDb.url).pathname.slice(1);
      const connections = async () =>
        Number(
          (
            await sql<{ n: string }>`select count(*) as n from pg_stat_activity
              where datname = ${name} and pid <> pg_backend_pid() and query not like '%pg_stat_activity%'`.execute(db)
          ).rows[0]!.n,
        );
      const before = await connections();
      await sql`select 1`.execute(other);
      await sql`select 1`.execute(asyncCommitOf(other));
      assert.equal(await connections(), before + 2);
      await other.destroy();
      // A backend leaves pg_stat_activity a moment after its client has gone.
      for (let i = 0; i < 100 && (await connections()) > before; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await connections(), before);
    });
  }

  if (testBackend === 'sqlite') {
    it('has no second handle on SQLite: its commits never wait for a flush (synchronous = NORMAL)', () => {
      assert.equal(asyncCommitOf(db), db);
    });
  }
});

describe('statement cache', () => {
  it('keeps the most recently used statements up to its size, and they keep working', () => {
    const raw = new SQLite(':memory:');
    raw.exec('create table t (a integer)');
    const cached = withStatementCache(raw, 2);
    const one = cached.prepare('select 1 as v');
    assert.equal(cached.prepare('select 1 as v'), one, 'the same text gives the same statement');
    const two = cached.prepare('select 2 as v');
    cached.prepare('select 1 as v'); // touch: 2 is now the least recently used
    cached.prepare('select 3 as v'); // evicts 2
    assert.equal(cached.prepare('select 1 as v'), one);
    assert.notEqual(cached.prepare('select 2 as v'), two);
    assert.deepEqual(cached.prepare('select 2 as v').all([]), [{ v: 2 }]);
    cached.prepare('insert into t values (?)').run([7]);
    cached.prepare('insert into t values (?)').run([8]);
    assert.deepEqual(cached.prepare('select a from t order by a').all([]), [{ a: 7 }, { a: 8 }]);
    // A statement being iterated is busy: the same text meanwhile gets a statement of its own.
    const iterating = cached.prepare('select a from t order by a');
    const rows = iterating.iterate([]);
    assert.deepEqual(rows.next().value, { a: 7 });
    const meanwhile = cached.prepare('select a from t order by a');
    assert.notEqual(meanwhile, iterating);
    assert.deepEqual(meanwhile.all([]), [{ a: 7 }, { a: 8 }]);
    assert.deepEqual(rows.next().value, { a: 8 });
    assert.equal(rows.next().done, true);
    cached.close();
    assert.equal(raw.open, false);
  });
});

describe('SQLite write-ahead log', () => {
  it('is copied back into the database after 10,000 pages, not after 1,000', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-wal-'));
    const file = path.join(dir, 'wal.sqlite');
    const db = openDatabase({ database: databaseTargetOf(`sqlite:${file}`) });
    try {
      await sql`create table pages (id integer primary key, body text not null)`.execute(db);
      // 1,500 transactions of one page each: past SQLite's default, short of ours.
      const body = 'x'.repeat(3500);
      for (let i = 0; i < 1500; i++) await sql`insert into pages (body) values (${body})`.execute(db);
      const pageSize = Number((await sql<{ page_size: number }>`pragma page_size`.execute(db)).rows[0]!.page_size);
      // A checkpoint would have started the log over from its beginning, so it would hold ~1,000 pages.
      assert.ok(fs.statSync(`${file}-wal`).size > 1400 * pageSize, 'the log still holds every page written');
      assert.equal((await sql<{ n: number }>`select count(*) as n from pages`.execute(db)).rows[0]!.n, 1500);
    } finally {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
