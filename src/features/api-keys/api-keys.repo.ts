import { sql, type Transaction } from 'kysely';
import type { DB } from '../../db/client.ts';
import { MUST_WAIT, preparedRead } from '../../db/prepared.ts';
import type { ApiKeyActivityRow, ApiKeyRow, Database } from '../../db/schema.ts';
import { sqliteConnectionOf } from '../../db/sqlite-connection.ts';
import { withEvents, writeOutbox, type TransactionalEvent } from '../webhooks/outbox.repo.ts';
import { ACTIVITY_COLUMNS, latestByKey } from './activity-batch.repo.ts';
import { sqliteUsageWriter } from './usage-batch-sqlite.repo.ts';

/** Each activity column's PostgreSQL type: the batch insert binds one array per column. */
const ACTIVITY_PG_TYPES = {
  id: 'text',
  key_id: 'text',
  at: 'bigint',
  ip: 'text',
  method: 'text',
  path: 'text',
  status: 'integer',
  request_id: 'text',
  client_version: 'text',
} as const satisfies Record<(typeof ACTIVITY_COLUMNS)[number], string>;

/** What authentication needs of a key (its owner's rights are read per request, by the authenticate step). */
export type ApiKeyAuthRow = Pick<
  ApiKeyRow,
  | 'id'
  | 'user_id'
  | 'secret_hash'
  | 'scopes'
  | 'allowed_ips'
  | 'expires_at'
  | 'revoked_at'
  | 'grace_until'
  | 'rate_limit_hourly'
  | 'rate_limit_burst'
>;

/** What narrows a key's activity: a status class (`4xx`) or code, a path prefix, a time range [from, to). */
export interface ActivityFilter {
  status?: { kind: 'class'; hundreds: number } | { kind: 'exact'; code: number };
  pathPrefix?: string;
  from?: number;
  to?: number;
}
/** A position in the activity: the entry's time and id (the keyset). */
export interface ActivityPosition {
  at: number;
  id: string;
}
export interface ActivityPageRequest {
  limit: number;
  older?: ActivityPosition;
  newer?: ActivityPosition;
}

export function createApiKeysRepo(db: DB) {
  const sqlite = sqliteConnectionOf(db);
  const writeUsageNow = sqlite && sqliteUsageWriter(sqlite);
  // PostgreSQL: a batch's activity rows in one statement of one array per column. Its text never
  // changes, so each connection parses and plans it once (prepared-statements.ts), and it binds
  // nine parameters however many rows: a 500-row VALUES list bound 4,500 and was compiled again
  // for every new row count. Measured on 500-row batches: 8-10 µs of the backend's CPU a row
  // against 16-19, and less of the server's.
  const insertActivity = (trx: Transaction<Database>, rows: ApiKeyActivityRow[]) =>
    sql`insert into api_key_activity (${sql.join(ACTIVITY_COLUMNS.map((c) => sql.ref(c)))})
        select * from unnest(${sql.join(
          ACTIVITY_COLUMNS.map((c) => sql`${rows.map((r) => r[c])}::${sql.raw(ACTIVITY_PG_TYPES[c])}[]`),
        )})`.execute(trx);
  // Every key presented and not in the service's cache is read here: compiled once, and on SQLite
  // read at once when it can be (prepared.ts). No join with its owner: the foreign key deletes a
  // key with its account, and the authenticate step reads the owner's standing on every request.
  const selectForAuth = preparedRead<{ id: string }, ApiKeyAuthRow>(db, ['id'], (p) =>
    db
      .selectFrom('api_keys')
      .select([
        'id',
        'user_id',
        'secret_hash',
        'scopes',
        'allowed_ips',
        'expires_at',
        'revoked_at',
        'grace_until',
        'rate_limit_hourly',
        'rate_limit_burst',
      ])
      .where('id', '=', p.id),
  );
  return {
    async insert(row: ApiKeyRow, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) => trx.insertInto('api_keys').values(row).execute());
    },

    async findForAuth(id: string): Promise<ApiKeyAuthRow | undefined> {
      return (await selectForAuth({ id })).rows[0];
    },

    /** `findForAuth` without waiting, where the database allows it (else MUST_WAIT: then `findForAuth`). */
    findForAuthNow(id: string): ApiKeyAuthRow | undefined | typeof MUST_WAIT {
      const rows = selectForAuth.now({ id });
      return rows === MUST_WAIT ? rows : rows[0];
    },

    async findById(id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async listOwned(userId: string): Promise<ApiKeyRow[]> {
      return db
        .selectFrom('api_keys')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .orderBy('id')
        .execute();
    },

    /** Revokes (once: a second revoke changes nothing and emits nothing). */
    async revoke(id: string, at: number, events: TransactionalEvent[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('api_keys')
          .set({ revoked_at: at })
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) await writeOutbox(trx, events);
      });
    },

    /** Inserts the replacement and marks the old key, in one transaction. */
    async rotate(
      oldId: string,
      replacement: ApiKeyRow,
      graceUntil: number,
      events: TransactionalEvent[],
    ): Promise<void> {
      await withEvents(db, events, async (trx) => {
        await trx.insertInto('api_keys').values(replacement).execute();
        await trx
          .updateTable('api_keys')
          .set({ replaced_by: replacement.id, grace_until: graceUntil })
          .where('id', '=', oldId)
          .execute();
      });
    },

    /**
     * Writes a batch of activity entries and last-use stamps in one transaction; returns how many
     * entries it wrote. Entries of keys deleted meanwhile are left out (the rest is written).
     *
     * Several instances write batches naming the same keys at once. On PostgreSQL a batch first
     * locks its keys' rows in one order (by id), so two batches wait for each other but never
     * deadlock; SQLite takes its one write lock when the transaction begins (the batch is written
     * by usage-batch-sqlite.repo.ts). Either way no key can be deleted between the check and the insert.
     * A stamp never moves last use backwards: batches commit in any order.
     */
    async recordUsage(entries: ApiKeyActivityRow[]): Promise<number> {
      if (entries.length === 0) return 0;
      // SQLite: at once on the connection, once Kysely's turn on it is ours (usage-batch-sqlite.repo.ts)
      if (writeUsageNow) return db.connection().execute(async () => writeUsageNow(entries));
      // Otherwise PostgreSQL: each statement takes its keys as arrays, so its text is one whatever
      // the batch names, and it is prepared once per connection.
      const latest = [...latestByKey(entries).values()];
      return db.transaction().execute(async (trx) => {
        // A batch waits for another instance's at most this long, then fails whole and is retried.
        await sql`set local lock_timeout = '2s'`.execute(trx);
        const keyIds = latest.map((e) => e.key_id);
        const { rows: locked } = await sql<{ id: string }>`
          select id from api_keys where id = any(${keyIds}::text[]) order by id for no key update
        `.execute(trx);
        await sql`
          update api_keys set last_used_at = stamp.at, last_used_ip = stamp.ip
          from unnest(${keyIds}::text[], ${latest.map((e) => e.at)}::bigint[], ${latest.map((e) => e.ip)}::text[])
            as stamp(id, at, ip)
          where api_keys.id = stamp.id and (api_keys.last_used_at is null or api_keys.last_used_at < stamp.at)
        `.execute(trx);
        const exists = new Set(locked.map((r) => r.id));
        const rows = entries.filter((e) => exists.has(e.key_id));
        if (rows.length) await insertActivity(trx, rows);
        return rows.length;
      });
    },

    async activity(keyId: string, limit: number, before?: number): Promise<ApiKeyActivityRow[]> {
      let q = db.selectFrom('api_key_activity').selectAll().where('key_id', '=', keyId);
      if (before !== undefined) q = q.where('at', '<', before);
      return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },

    /**
     * One page of a key's activity, newest first, by keyset on (at, id) (the table's own order,
     * (key_id, at, id)): `older` than a position, or `newer` than one, never OFFSET, so a
     * page costs the same however deep. Answers `limit + 1` rows at most: the extra one says more follow.
     */
    async activityPage(keyId: string, filter: ActivityFilter, page: ActivityPageRequest): Promise<ApiKeyActivityRow[]> {
      let q = db.selectFrom('api_key_activity').selectAll().where('key_id', '=', keyId);
      if (filter.status?.kind === 'class') {
        q = q.where('status', '>=', filter.status.hundreds).where('status', '<', filter.status.hundreds + 100);
      } else if (filter.status?.kind === 'exact') q = q.where('status', '=', filter.status.code);
      // A prefix compared as text, not LIKE: `%` and `_` in a path are themselves, with no escaping.
      if (filter.pathPrefix) {
        q = q.where(sql<string>`substr(path, 1, ${filter.pathPrefix.length})`, '=', filter.pathPrefix);
      }
      if (filter.from !== undefined) q = q.where('at', '>=', filter.from);
      if (filter.to !== undefined) q = q.where('at', '<', filter.to);
      const { older, newer, limit } = page;
      if (newer) {
        const rows = await q
          .where((eb) => eb.or([eb('at', '>', newer.at), eb.and([eb('at', '=', newer.at), eb('id', '>', newer.id)])]))
          .orderBy('at', 'asc')
          .orderBy('id', 'asc')
          .limit(limit + 1)
          .execute();
        return rows.reverse();
      }
      if (older) {
        q = q.where((eb) =>
          eb.or([eb('at', '<', older.at), eb.and([eb('at', '=', older.at), eb('id', '<', older.id)])]),
        );
      }
      return q
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute();
    },

    async pruneActivity(olderThan: number): Promise<void> {
      await db.deleteFrom('api_key_activity').where('at', '<', olderThan).execute();
    },

    /**
     * Every key that still opens the API at `t` (not revoked, expired or rotated out), newest first,
     * a page at a time (keyset on created_at, id), with its owner's email; optionally one owner's.
     */
    async listLive(query: {
      t: number;
      ownerEmail?: string | undefined;
      after?: { createdAt: number; id: string } | undefined;
      limit: number;
    }): Promise<Array<ApiKeyRow & { owner_email: string }>> {
      const { t, after } = query;
      let q = db
        .selectFrom('api_keys')
        .innerJoin('users', 'users.id', 'api_keys.user_id')
        .selectAll('api_keys')
        .select('users.email as owner_email')
        .where('api_keys.revoked_at', 'is', null)
        .where((eb) => eb.or([eb('api_keys.expires_at', 'is', null), eb('api_keys.expires_at', '>', t)]))
        .where((eb) => eb.or([eb('api_keys.grace_until', 'is', null), eb('api_keys.grace_until', '>', t)]));
      if (query.ownerEmail !== undefined) q = q.where('users.email', '=', query.ownerEmail);
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('api_keys.created_at', '<', after.createdAt),
            eb.and([eb('api_keys.created_at', '=', after.createdAt), eb('api_keys.id', '<', after.id)]),
          ]),
        );
      }
      return q.orderBy('api_keys.created_at', 'desc').orderBy('api_keys.id', 'desc').limit(query.limit).execute();
    },
  };
}
export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>;
