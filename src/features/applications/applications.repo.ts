import type { DB } from '../../db/client.ts';
import type { ApplicationRow, ApplicationUpdate } from '../../db/schema.ts';
import { withEvents, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

export function createApplicationsRepo(db: DB) {
  return {
    async insert(row: ApplicationRow, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) => trx.insertInto('applications').values(row).execute());
    },
    async findById(clientId: string): Promise<ApplicationRow | undefined> {
      // oidc-provider, the token-endpoint limiter and introspection look clients up by whatever a
      // request named: a NUL can name no client (and would be refused by the database layer).
      if (clientId.includes('\u0000')) return undefined;
      return db.selectFrom('applications').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    },
    async listByOwner(ownerId: string): Promise<ApplicationRow[]> {
      return db
        .selectFrom('applications')
        .selectAll()
        .where('owner_id', '=', ownerId)
        .orderBy('created_at', 'desc')
        .execute();
    },
    /** Where every application's pages run: its redirect URIs and its allowed origins (JSON arrays). */
    async listBrowserOrigins(): Promise<Array<{ redirect_uris: string; allowed_origins: string }>> {
      return db.selectFrom('applications').select(['redirect_uris', 'allowed_origins']).execute();
    },
    async update(clientId: string, changes: ApplicationUpdate, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx.updateTable('applications').set(changes).where('client_id', '=', clientId).execute(),
      );
    },
    /** Self-registered applications awaiting review, oldest first (admins review them). */
    async listAwaitingReview(): Promise<ApplicationRow[]> {
      return db
        .selectFrom('applications')
        .selectAll()
        .where('registration', '=', 'dynamic')
        .where('review_state', '=', 'pending')
        .orderBy('created_at', 'asc')
        .limit(500)
        .execute();
    },
    /** Records a review; a rejection also deletes every token, code, grant and consent the client holds, atomically. */
    async review(clientId: string, state: string, t: number): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('applications')
          .set({ review_state: state, updated_at: t })
          .where('client_id', '=', clientId)
          .execute();
        if (state !== 'rejected') return;
        await trx.deleteFrom('oidc_payloads').where('client_id', '=', clientId).execute();
        await trx.deleteFrom('consents').where('client_id', '=', clientId).execute();
      });
    },
    /** Deletes the application and every token, code and grant issued to it, atomically. */
    async deleteWithArtifacts(clientId: string, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, async (trx) => {
        await trx.deleteFrom('oidc_payloads').where('client_id', '=', clientId).execute();
        await trx.deleteFrom('applications').where('client_id', '=', clientId).execute();
      });
    },
  };
}
export type ApplicationsRepo = ReturnType<typeof createApplicationsRepo>;
