import type { DB } from '../../db/client.ts';
import type { ApiRow, ApiScopeRow, ApiUpdate } from '../../db/schema.ts';

/** A registered API with its scopes, in their registered order. */
export interface ApiRecord {
  api: ApiRow;
  scopes: ApiScopeRow[];
}

type Trx = Parameters<Parameters<ReturnType<DB['transaction']>['execute']>[0]>[0];

/**
 * Registered APIs and their scopes. A scope name is unique across every API (the primary key of
 * `api_scopes`), so two owners racing for one name are decided by the database.
 */
export function createApisRepo(db: DB) {
  async function withScopes(rows: ApiRow[], q: DB | Trx = db): Promise<ApiRecord[]> {
    if (rows.length === 0) return [];
    const scopes = await q
      .selectFrom('api_scopes')
      .selectAll()
      .where(
        'api_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('position')
      .execute();
    return rows.map((api) => ({ api, scopes: scopes.filter((s) => s.api_id === api.id) }));
  }

  /**
   * Takes `names` out of every application's scope list: a scope that is gone is allowed to nobody,
   * and a later API registering the same name must not inherit the applications that held it.
   */
  async function dropFromApplications(trx: Trx, names: string[]): Promise<void> {
    if (names.length === 0) return;
    const gone = new Set(names);
    let holders = trx.selectFrom('applications').select(['client_id', 'scopes']);
    holders = holders.where((eb) => eb.or(names.map((n) => eb('scopes', 'like', `%${JSON.stringify(n)}%`))));
    for (const app of await holders.execute()) {
      const scopes = (JSON.parse(app.scopes) as string[]).filter((s) => !gone.has(s));
      await trx
        .updateTable('applications')
        .set({ scopes: JSON.stringify(scopes) })
        .where('client_id', '=', app.client_id)
        .execute();
    }
  }

  return {
    async insert(api: ApiRow, scopes: ApiScopeRow[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('apis').values(api).execute();
        if (scopes.length) await trx.insertInto('api_scopes').values(scopes).execute();
      });
    },
    async findById(id: string): Promise<ApiRecord | undefined> {
      const row = await db.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? (await withScopes([row]))[0] : undefined;
    },
    async findByIdentifier(identifier: string): Promise<ApiRecord | undefined> {
      const row = await db.selectFrom('apis').selectAll().where('identifier', '=', identifier).executeTakeFirst();
      return row ? (await withScopes([row]))[0] : undefined;
    },
    /** The APIs owning any of these scope names. */
    async findByScopes(names: string[]): Promise<ApiRecord[]> {
      if (names.length === 0) return [];
      const rows = await db
        .selectFrom('apis')
        .selectAll('apis')
        .where('id', 'in', db.selectFrom('api_scopes').select('api_id').where('name', 'in', names))
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return withScopes(rows);
    },
    /** Newest first (ties by id); `ownerId` null lists everyone's. */
    async list(ownerId: string | null, limit: number, offset: number): Promise<ApiRecord[]> {
      let q = db.selectFrom('apis').selectAll();
      if (ownerId !== null) q = q.where('owner_id', '=', ownerId);
      return withScopes(await q.orderBy('created_at', 'desc').orderBy('id').limit(limit).offset(offset).execute());
    },
    /**
     * Changes the API's columns and, when `scopes` is given, replaces its scopes with them: the ones
     * it no longer has are taken out of every application's list, in the same transaction.
     */
    async update(id: string, changes: ApiUpdate, scopes?: ApiScopeRow[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('apis').set(changes).where('id', '=', id).execute();
        if (!scopes) return;
        const before = await trx.selectFrom('api_scopes').select('name').where('api_id', '=', id).execute();
        const kept = new Set(scopes.map((s) => s.name));
        await trx.deleteFrom('api_scopes').where('api_id', '=', id).execute();
        if (scopes.length) await trx.insertInto('api_scopes').values(scopes).execute();
        await dropFromApplications(
          trx,
          before.map((s) => s.name).filter((n) => !kept.has(n)),
        );
      });
    },
    /** Deletes the API and its scopes, taking the scopes out of every application's list. */
    async delete(id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const names = await trx.selectFrom('api_scopes').select('name').where('api_id', '=', id).execute();
        await trx.deleteFrom('api_scopes').where('api_id', '=', id).execute();
        await trx.deleteFrom('apis').where('id', '=', id).execute();
        await dropFromApplications(
          trx,
          names.map((s) => s.name),
        );
      });
    },
    /** How many resource_server applications belong to the API with this identifier. */
    async resourceServersOf(identifier: string): Promise<number> {
      const row = await db
        .selectFrom('applications')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('api', '=', identifier)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type ApisRepo = ReturnType<typeof createApisRepo>;
