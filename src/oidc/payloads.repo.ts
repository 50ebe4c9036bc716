import { sql } from 'kysely';
import type { DB } from '../db/client.ts';
import { asyncCommitOf } from '../db/async-commit.ts';
import { groupCommit } from '../db/group-commit.ts';
import { groupRead } from '../db/group-read.ts';
import { preparedQuery, preparedRows } from '../db/prepared.ts';
import { oncePerKey } from '../db/turn-batches.ts';

/** A stored oidc-provider model row, keys already hashed by the caller. */
export interface StoredPayload {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

export interface PayloadWrite {
  type: string;
  idHash: string;
  payload: string;
  grantIdHash: string | null;
  clientId: string | null;
  uidHash: string | null;
  userCodeHash: string | null;
  expiresAt: number | null;
  /** The account of a Session (null for other models). */
  accountId: string | null;
}

/** The columns of a row as the upsert writes them. */
type UpsertParams = Omit<PayloadWrite, 'userCodeHash'> & { userCodeHash: string | null };

/** A token marked used at `at` (epoch ms). */
interface Consumption {
  type: string;
  idHash: string;
  at: number;
}

/** A row found by id: read alone it carries no id_hash, read in a group it does. */
type FoundPayload = StoredPayload & { id_hash?: string };

/** The columns an upsert binds. */
const UPSERT_COLUMNS = [
  'type',
  'idHash',
  'payload',
  'grantIdHash',
  'clientId',
  'uidHash',
  'userCodeHash',
  'expiresAt',
  'accountId',
] as const;

/**
 * The models whose rows may be lost in a crash of the database without harm: a presented access
 * token that is not found is refused, and its client asks for another. The rest must not be: a
 * lost refresh token or grant signs its user out, a lost replay-detection row lets a signed
 * request be replayed. (A consumption or a deletion is never an upsert.)
 */
const LOST_FAILS_CLOSED: ReadonlySet<string> = new Set(['AccessToken', 'ClientCredentials']);

/** The most rows one grouped statement writes (9 parameters each: far below either backend's limit). */
const MAX_GROUP = 50;

/** A row as the table's columns (a new row is never consumed yet). */
const columnsOf = (row: UpsertParams) => ({
  type: row.type,
  id_hash: row.idHash,
  payload: row.payload,
  grant_id_hash: row.grantIdHash,
  client_id: row.clientId,
  uid_hash: row.uidHash,
  user_code_hash: row.userCodeHash,
  expires_at: row.expiresAt,
  consumed_at: null,
  account_id: row.accountId,
});

/** SQL for oidc-provider's models: one table keyed by (model name, SHA-256 of the id). */
export function createPayloadsRepo(db: DB) {
  // Every issued token is an upsert and every presented one a lookup by id: compiled once (prepared.ts).
  const upsertAs = (on: DB, keepUserCode: boolean) =>
    preparedQuery<UpsertParams, never>(
      on,
      ['type', 'idHash', 'payload', 'grantIdHash', 'clientId', 'uidHash', 'userCodeHash', 'expiresAt', 'accountId'],
      (row) =>
        on
          .insertInto('oidc_payloads')
          .values(columnsOf(row))
          .onConflict((oc) =>
            oc.columns(['type', 'id_hash']).doUpdateSet({
              payload: row.payload,
              grant_id_hash: row.grantIdHash,
              uid_hash: row.uidHash,
              // A device code re-saved after a lookup by its id no longer carries its user code (only
              // the hash is kept, here): the code stays findable by it, and reads as already used.
              ...(keepUserCode ? {} : { user_code_hash: row.userCodeHash }),
              expires_at: row.expiresAt,
              account_id: row.accountId,
            }),
          ),
    );
  const upsertWithUserCode = upsertAs(db, false);
  /**
   * Tokens issued by concurrent requests, committed together (group-commit.ts) on `on`. Only rows
   * without a user code: a device code's save (the rare one that sets it) keeps its own statement.
   */
  const groupedUpserts = (on: DB) => {
    const upsertKeepingUserCode = upsertAs(on, true);
    /** One statement writing `size` rows that carry no user code (as upsertKeepingUserCode does one). */
    const upsertMany = oncePerKey((size: number) =>
      preparedRows<PayloadWrite, never>(on, UPSERT_COLUMNS, size, (rows) =>
        on
          .insertInto('oidc_payloads')
          .values(rows.map(columnsOf))
          .onConflict((oc) =>
            oc.columns(['type', 'id_hash']).doUpdateSet((eb) => ({
              payload: eb.ref('excluded.payload'),
              grant_id_hash: eb.ref('excluded.grant_id_hash'),
              uid_hash: eb.ref('excluded.uid_hash'),
              expires_at: eb.ref('excluded.expires_at'),
              account_id: eb.ref('excluded.account_id'),
            })),
          ),
      ),
    );
    return groupCommit<PayloadWrite>({
      maxGroup: MAX_GROUP,
      writeOne: async (row) => {
        await upsertKeepingUserCode(row);
      },
      writeGroup: async (rows) => {
        await upsertMany(rows.length)(rows);
      },
    });
  };
  const upsertDurably = groupedUpserts(db);
  // Access tokens may commit without waiting for the flush (async-commit.ts). Where that handle is
  // `db` itself (SQLite), every token of a turn stays in one group.
  const asyncDb = asyncCommitOf(db);
  const upsertFailingClosed = asyncDb === db ? upsertDurably : groupedUpserts(asyncDb);
  const selectById = preparedQuery<{ type: string; idHash: string }, StoredPayload>(db, ['type', 'idHash'], (p) =>
    db
      .selectFrom('oidc_payloads')
      .select(['payload', 'expires_at', 'consumed_at'])
      .where('type', '=', p.type)
      .where('id_hash', '=', p.idHash),
  );
  /** Statements finding up to `size` rows of one type by id (the type is fixed in their parameters), per size. */
  const selectMany = (type: string) =>
    oncePerKey((size: number) =>
      preparedRows<{ idHash: string }, FoundPayload>(db, ['idHash'], size, (rows) =>
        db
          .selectFrom('oidc_payloads')
          .select(['id_hash', 'payload', 'expires_at', 'consumed_at'])
          .where('type', '=', type)
          .where(
            'id_hash',
            'in',
            rows.map((row) => row.idHash),
          ),
      ),
    );
  // Every presented token is a lookup by id, then its grant's: concurrent requests' lookups of one
  // model are read together (group-read.ts), one reader per model name (oidc-provider's few).
  const findGrouped = oncePerKey((type: string) => {
    const selectOfType = selectMany(type);
    const read = groupRead<string, FoundPayload>({
      maxGroup: MAX_GROUP,
      readOne: async (idHash) => (await selectById({ type, idHash })).rows[0],
      readGroup: async (idHashes) => (await selectOfType(idHashes.length)(idHashes.map((idHash) => ({ idHash })))).rows,
      keyOfRow: (row) => row.id_hash!,
      idOf: (idHash) => idHash,
    });
    return async (idHash: string): Promise<StoredPayload | undefined> => {
      const row = await read(idHash);
      // The same three columns whether read alone or in a group.
      return row && { payload: row.payload, expires_at: row.expires_at, consumed_at: row.consumed_at };
    };
  });
  const consumeOnce = preparedQuery<{ type: string; idHash: string; at: number }, never>(
    db,
    ['type', 'idHash', 'at'],
    (p) =>
      db
        .updateTable('oidc_payloads')
        .set({ consumed_at: p.at })
        .where('type', '=', p.type)
        .where('id_hash', '=', p.idHash)
        .where('consumed_at', 'is', null),
  );
  /** One statement consuming `size` rows, each at its own time, each only if not consumed yet. */
  const consumeMany = oncePerKey((size: number) =>
    preparedRows<Consumption, never>(db, ['type', 'idHash', 'at'], size, (rows) =>
      db
        .updateTable('oidc_payloads')
        .set({
          consumed_at: sql<number>`case ${sql.join(
            rows.map(
              (row) =>
                sql`when ${sql.ref('type')} = ${row.type} and ${sql.ref('id_hash')} = ${row.idHash}
                    then cast(${row.at} as bigint)`,
            ),
            sql` `,
          )} end`,
        })
        .where('consumed_at', 'is', null)
        .where((eb) => eb.or(rows.map((row) => eb.and([eb('type', '=', row.type), eb('id_hash', '=', row.idHash)])))),
    ),
  );
  // A refresh consumes its token before it saves the new ones: concurrent refreshes' consumptions
  // are committed together, as their saves are.
  const consumeGrouped = groupCommit<Consumption>({
    maxGroup: MAX_GROUP,
    writeOne: async (row) => {
      await consumeOnce(row);
    },
    writeGroup: async (rows) => {
      await consumeMany(rows.length)(rows);
    },
  });

  return {
    async upsert(row: PayloadWrite): Promise<void> {
      if (row.userCodeHash !== null) await upsertWithUserCode(row);
      else if (LOST_FAILS_CLOSED.has(row.type)) await upsertFailingClosed(row);
      else await upsertDurably(row);
    },

    async findById(type: string, idHash: string): Promise<StoredPayload | undefined> {
      return findGrouped(type)(idHash);
    },

    async findBy(
      type: string,
      column: 'uid_hash' | 'user_code_hash',
      hash: string,
    ): Promise<(StoredPayload & { id_hash: string }) | undefined> {
      return db
        .selectFrom('oidc_payloads')
        .select(['id_hash', 'payload', 'expires_at', 'consumed_at'])
        .where('type', '=', type)
        .where(column, '=', hash)
        .executeTakeFirst();
    },

    /** Marks consumed once; a second consume keeps the first time (the reuse grace counts from it). */
    async consume(type: string, idHash: string, at: number): Promise<void> {
      await consumeGrouped({ type, idHash, at });
    },

    async destroy(type: string, idHash: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('type', '=', type).where('id_hash', '=', idHash).execute();
    },

    async destroyByGrant(type: string, grantIdHash: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('type', '=', type).where('grant_id_hash', '=', grantIdHash).execute();
    },

    /** Every oidc-provider Session (browser sign-in) of an account, as stored: told of when they end. */
    async sessionsOf(accountId: string): Promise<Array<{ uid_hash: string | null; payload: string }>> {
      return db
        .selectFrom('oidc_payloads')
        .select(['uid_hash', 'payload'])
        .where('account_id', '=', accountId)
        .where('type', '=', 'Session')
        .execute();
    },

    /** Ends every oidc-provider Session (browser sign-in) of an account. */
    async deleteSessionsOf(accountId: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).where('type', '=', 'Session').execute();
    },

    /** Ends one oidc-provider Session of an account, found by the SHA-256 of its uid (stable across sign-ins). */
    async deleteSessionOf(accountId: string, uidHash: string): Promise<void> {
      await db
        .deleteFrom('oidc_payloads')
        .where('account_id', '=', accountId)
        .where('type', '=', 'Session')
        .where('uid_hash', '=', uidHash)
        .execute();
    },

    /**
     * Ends every oidc-provider Session of an account but the one whose uid has this SHA-256 (none
     * kept when null): "sign out all other sessions", including browsers whose dashboard session
     * has already ended.
     */
    async deleteSessionsOfExcept(accountId: string, keepUidHash: string | null): Promise<void> {
      let q = db.deleteFrom('oidc_payloads').where('account_id', '=', accountId).where('type', '=', 'Session');
      if (keepUidHash) q = q.where((eb) => eb.or([eb('uid_hash', 'is', null), eb('uid_hash', '!=', keepUidHash)]));
      await q.execute();
    },

    /** Every artifact issued to a client (used when the application is deleted). */
    async destroyByClient(clientId: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('client_id', '=', clientId).execute();
    },

    /**
     * Stores a row of `type` with no payload unless one with this id is there already (expired or
     * not): true when this call stored it. One statement, so two instances racing on the same id
     * cannot both win (what a replay check needs; oidc-provider's upsert would let both through).
     */
    async insertOnce(type: string, idHash: string, expiresAt: number): Promise<boolean> {
      const result = await db
        .insertInto('oidc_payloads')
        .values({
          type,
          id_hash: idHash,
          payload: '{}',
          grant_id_hash: null,
          client_id: null,
          uid_hash: null,
          user_code_hash: null,
          expires_at: expiresAt,
          consumed_at: null,
          account_id: null,
        })
        .onConflict((oc) => oc.columns(['type', 'id_hash']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
    },

    /** Deletes rows whose expiry has passed; returns how many. */
    async deleteExpired(now: number): Promise<number> {
      const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', now).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type PayloadsRepo = ReturnType<typeof createPayloadsRepo>;
