import type { DB } from '../../db/client.ts';
import type { ConsentRow } from '../../db/schema.ts';

export function createConsentsRepo(db: DB) {
  return {
    async find(userId: string, clientId: string): Promise<ConsentRow | undefined> {
      return db
        .selectFrom('consents')
        .selectAll()
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .executeTakeFirst();
    },
    async upsert(row: ConsentRow): Promise<void> {
      await db
        .insertInto('consents')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['user_id', 'client_id']).doUpdateSet({ grant_id: row.grant_id, scopes: row.scopes, updated_at: row.updated_at }),
        )
        .execute();
    },
    async deleteByGrant(grantId: string): Promise<void> {
      await db.deleteFrom('consents').where('grant_id', '=', grantId).execute();
    },
  };
}
export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
