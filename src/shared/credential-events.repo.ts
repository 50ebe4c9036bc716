import { sql } from 'kysely';
import { isPostgres, type DB } from '../db/client.ts';

/** The PostgreSQL channel that wakes the other instances' readers early (the payload is unused). */
export const CREDENTIAL_EVENTS_CHANNEL = 'latchkey_credential_events';

export interface StoredCredentialEvent {
  id: number;
  origin: string;
  kind: string;
  subject: string | null;
}

export function createCredentialEventsRepo(db: DB) {
  const postgres = isPostgres(db);
  return {
    /** Appends the rows; on PostgreSQL also NOTIFYs the channel, in the same statement. */
    async append(rows: { origin: string; kind: string; subject: string | null; created_at: number }[]): Promise<void> {
      if (!rows.length) return;
      const insert = db.insertInto('credential_events').values(rows);
      if (!postgres) {
        await insert.execute();
        return;
      }
      await db
        .with('added', () => insert.returning('id'))
        .selectNoFrom(
          sql<string>`pg_notify(${CREDENTIAL_EVENTS_CHANNEL}, (select max(id) from added)::text)`.as('notified'),
        )
        .execute();
    },
    /** The highest id so far (0 for none): an instance starting now has nothing older to forget. */
    async lastId(): Promise<number> {
      const row = await db
        .selectFrom('credential_events')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst();
      return Number(row?.id ?? 0);
    },
    /** Rows with an id above `after`, oldest first. */
    async after(after: number, limit: number): Promise<StoredCredentialEvent[]> {
      return db
        .selectFrom('credential_events')
        .select(['id', 'origin', 'kind', 'subject'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(limit)
        .execute();
    },
    async deleteOlderThan(t: number): Promise<void> {
      await db.deleteFrom('credential_events').where('created_at', '<', t).execute();
    },
  };
}
export type CredentialEventsRepo = ReturnType<typeof createCredentialEventsRepo>;
