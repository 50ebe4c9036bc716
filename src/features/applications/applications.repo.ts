import { sql } from 'kysely';
import type { DB } from '../../db/client.ts';
import type { ApplicationRow, ApplicationUpdate } from '../../db/schema.ts';
import { withEvents, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

/** Where a page of the console's application list starts: after this (created_at, client_id). */
export interface ApplicationCursor {
  createdAt: number;
  clientId: string;
}

/** An application with its owner's email, as the operators' console lists it. */
export type ApplicationWithOwner = ApplicationRow & { owner_email: string | null };

/** `text` as a LIKE pattern matching it anywhere (its own wildcards and backslashes taken literally). */
const containing = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

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
    /**
     * Every application, newest first, a page at a time (keyset: the index on created_at,
     * client_id), optionally only those whose name or client id contains `search`.
     */
    async listAll(query: {
      search?: string | undefined;
      after?: ApplicationCursor | undefined;
      /** Only this application (the console's page of one). */
      clientId?: string;
      limit: number;
    }): Promise<ApplicationWithOwner[]> {
      let q = db
        .selectFrom('applications')
        .leftJoin('users', 'users.id', 'applications.owner_id')
        .selectAll('applications')
        .select('users.email as owner_email');
      if (query.clientId !== undefined) q = q.where('applications.client_id', '=', query.clientId);
      if (query.search) {
        const pattern = containing(query.search);
        q = q.where((eb) =>
          eb.or([
            eb(sql`lower(applications.name)`, 'like', sql`${pattern} escape '\\'`),
            eb(sql`lower(applications.client_id)`, 'like', sql`${pattern} escape '\\'`),
          ]),
        );
      }
      const after = query.after;
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('applications.created_at', '<', after.createdAt),
            eb.and([
              eb('applications.created_at', '=', after.createdAt),
              eb('applications.client_id', '<', after.clientId),
            ]),
          ]),
        );
      }
      return q
        .orderBy('applications.created_at', 'desc')
        .orderBy('applications.client_id', 'desc')
        .limit(query.limit)
        .execute();
    },
    /** Suspends (a time) or unsuspends (null) an application, with the events that record it. */
    async setSuspended(clientId: string, at: number | null, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx.updateTable('applications').set({ suspended_at: at }).where('client_id', '=', clientId).execute(),
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
    async review(clientId: string, state: string, t: number, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, async (trx) => {
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
