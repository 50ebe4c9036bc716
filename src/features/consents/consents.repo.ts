import type { DB } from '../../db/client.ts';
import type { ConsentRow } from '../../db/schema.ts';
import { sha256 } from '../../shared/secrets.ts';
import { withEvents, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

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
    async findByGrant(grantId: string): Promise<ConsentRow | undefined> {
      return db.selectFrom('consents').selectAll().where('grant_id', '=', grantId).executeTakeFirst();
    },
    /** A user's consents with each application's name, newest first. */
    async listByUser(userId: string): Promise<Array<ConsentRow & { app_name: string }>> {
      return db
        .selectFrom('consents')
        .innerJoin('applications', 'applications.client_id', 'consents.client_id')
        .selectAll('consents')
        .select('applications.name as app_name')
        .where('consents.user_id', '=', userId)
        .orderBy('consents.updated_at', 'desc')
        .execute();
    },
    async upsert(row: ConsentRow, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx
          .insertInto('consents')
          .values(row)
          .onConflict((oc) =>
            oc
              .columns(['user_id', 'client_id'])
              .doUpdateSet({ grant_id: row.grant_id, scopes: row.scopes, updated_at: row.updated_at }),
          )
          .execute(),
      );
    },
    async deleteByGrant(grantId: string, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) => trx.deleteFrom('consents').where('grant_id', '=', grantId).execute());
    },
    /** Forgets the consent and destroys its grant with every token and code issued under it. */
    async revokeWithGrant(
      userId: string,
      clientId: string,
      grantId: string,
      events: TransactionalEvent[],
    ): Promise<void> {
      const grantHash = sha256(grantId);
      await withEvents(db, events, async (trx) => {
        await trx.deleteFrom('consents').where('user_id', '=', userId).where('client_id', '=', clientId).execute();
        await trx.deleteFrom('oidc_payloads').where('grant_id_hash', '=', grantHash).execute();
        await trx.deleteFrom('oidc_payloads').where('type', '=', 'Grant').where('id_hash', '=', grantHash).execute();
      });
    },
  };
}
export type ConsentsRepo = ReturnType<typeof createConsentsRepo>;
