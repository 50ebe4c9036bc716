import { PostgresAdapter, sql, type Kysely } from 'kysely';

// Frozen: never edit a migration that has shipped; add a new one instead.
// Every API-key request writes an activity row, and the foreign key to api_keys checked each row
// against its key as it went in: on PostgreSQL a lock on the key's row taken per row, about half of
// the insert (4.2-5.3 of 9-12 µs of the backend's CPU a row, 276-row batches); on SQLite a read of
// the key's b-tree (0.3-1.6 µs a row). The check proves nothing the batch does not already know: both
// writers look their keys up inside the batch's transaction, under a lock no deletion gets past, and
// leave out the entries of keys that are gone (api-keys.repo.ts, usage-batch-sqlite.repo.ts).
// So the reference goes, and its cascade (a key's activity deleted with the key) becomes a trigger
// on api_keys, paid once per deleted key rather than once per request. It fires for keys deleted
// with their account too: the cascade from users deletes them as rows.

/** The table as 0041 left it, with `reference` after `key_id` (the foreign key, or nothing). */
const SHAPE = (reference: string) =>
  sql.raw(`(
  id text not null,
  key_id text not null${reference},
  at bigint not null,
  ip text not null,
  method text not null,
  path text not null,
  status integer not null,
  request_id text not null,
  client_version text,
  primary key (key_id, at, id)
) without rowid`);
const COLUMNS = sql.raw('id, key_id, at, ip, method, path, status, request_id, client_version');

/**
 * SQLite cannot drop a constraint: a table of the new shape takes the rows and the name, and its
 * index is made again. Kysely runs no transaction around a migration on SQLite, so this holds its own.
 */
async function rebuildOnSqlite(db: Kysely<any>, reference: string, trigger: 'add' | 'drop') {
  await db.transaction().execute(async (trx) => {
    if (trigger === 'drop') await sql`drop trigger api_key_activity_goes_with_key`.execute(trx);
    await sql`create table api_key_activity_rebuilt ${SHAPE(reference)}`.execute(trx);
    // Going down, rows of keys already gone cannot go back under a reference to api_keys; going up
    // the reference still holds, so every row has its key and none needs looking up.
    const kept = trigger === 'drop' ? sql`where key_id in (select id from api_keys)` : sql``;
    const copy = sql`insert into api_key_activity_rebuilt (${COLUMNS}) select ${COLUMNS} from api_key_activity`;
    await sql`${copy} ${kept}`.execute(trx);
    await sql`drop table api_key_activity`.execute(trx);
    await sql`alter table api_key_activity_rebuilt rename to api_key_activity`.execute(trx);
    await sql`create index api_key_activity_at on api_key_activity (at)`.execute(trx);
    if (trigger === 'add')
      await sql`create trigger api_key_activity_goes_with_key after delete on api_keys
        begin delete from api_key_activity where key_id = old.id; end`.execute(trx);
  });
}

export async function up(db: Kysely<any>): Promise<void> {
  // PostgreSQL: the migrator runs each migration in a transaction (DDL is transactional there).
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`alter table api_key_activity drop constraint api_key_activity_key_id_fkey`.execute(db);
    // Once per statement, with the keys it deleted: one delete however many keys an account had.
    await sql`create function api_key_activity_goes_with_key() returns trigger language plpgsql as $$
      begin
        delete from api_key_activity a using gone_keys g where a.key_id = g.id;
        return null;
      end $$`.execute(db);
    await sql`create trigger api_key_activity_goes_with_key after delete on api_keys
      referencing old table as gone_keys
      for each statement execute function api_key_activity_goes_with_key()`.execute(db);
    return;
  }
  await rebuildOnSqlite(db, '', 'add');
}

export async function down(db: Kysely<any>): Promise<void> {
  const reference = ' references api_keys (id) on delete cascade';
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`drop trigger api_key_activity_goes_with_key on api_keys`.execute(db);
    await sql`drop function api_key_activity_goes_with_key()`.execute(db);
    await sql`delete from api_key_activity where key_id not in (select id from api_keys)`.execute(db);
    await sql`alter table api_key_activity add constraint api_key_activity_key_id_fkey
      foreign key (key_id)${sql.raw(reference)}`.execute(db);
    return;
  }
  await rebuildOnSqlite(db, reference, 'drop');
}
