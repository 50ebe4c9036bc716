import type { DB } from '../../db/client.ts';

/** Secrets waiting for the one page view that shows them (see shown-once.service.ts). */
export function createShownOnceRepo(db: DB) {
  return {
    /** Holds a sealed secret for a session; a newer one for the same thing replaces it. */
    async put(row: {
      session_id_hash: string;
      purpose: string;
      subject_id: string;
      sealed: string;
      expires_at: number;
    }): Promise<void> {
      await db
        .insertInto('shown_once_secrets')
        .values(row)
        .onConflict((oc) =>
          oc
            .columns(['session_id_hash', 'purpose', 'subject_id'])
            .doUpdateSet({ sealed: row.sealed, expires_at: row.expires_at }),
        )
        .execute();
    },
    /**
     * Deletes the held secret and returns it, in one statement: of two concurrent views, only one
     * gets it. An expired one is deleted all the same and returned as nothing.
     */
    async take(sessionIdHash: string, purpose: string, subjectId: string, now: number): Promise<string | null> {
      const row = await db
        .deleteFrom('shown_once_secrets')
        .where('session_id_hash', '=', sessionIdHash)
        .where('purpose', '=', purpose)
        .where('subject_id', '=', subjectId)
        .returning(['sealed', 'expires_at'])
        .executeTakeFirst();
      return row && Number(row.expires_at) > now ? row.sealed : null;
    },
    async deleteExpired(now: number): Promise<void> {
      await db.deleteFrom('shown_once_secrets').where('expires_at', '<=', now).execute();
    },
  };
}
export type ShownOnceRepo = ReturnType<typeof createShownOnceRepo>;
