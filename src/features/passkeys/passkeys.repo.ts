import type { DB } from '../../db/client.ts';
import type { Selectable } from 'kysely';
import type { PasskeyChallengesTable, PasskeysTable } from '../../db/schema.ts';
import { withEvents, writeOutbox, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

export type PasskeyRow = Selectable<PasskeysTable>;
export type PasskeyChallengeRow = Selectable<PasskeyChallengesTable>;

/** SQL for passkeys and their ceremonies' challenges. */
export function createPasskeysRepo(db: DB) {
  return {
    /**
     * A new credential, with its `events` in the same transaction; a credential id already stored
     * (on any account) is a unique violation.
     */
    async insert(row: PasskeyRow, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) => trx.insertInto('passkeys').values(row).execute());
    },
    async findByCredentialId(credentialId: string): Promise<PasskeyRow | undefined> {
      return db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
    },
    /** The account's passkeys, oldest first. */
    async listOf(userId: string): Promise<PasskeyRow[]> {
      return db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
    },
    /**
     * Deletes one passkey of the account, with the `events` `removed` builds from it in the same
     * transaction; the deleted row, or undefined (and nothing written) when it names none of the account's.
     */
    async deleteOf(
      userId: string,
      id: string,
      removed: (row: PasskeyRow) => TransactionalEvent[] = () => [],
    ): Promise<PasskeyRow | undefined> {
      return db.transaction().execute(async (trx) => {
        const row = await trx
          .deleteFrom('passkeys')
          .where('id', '=', id)
          .where('user_id', '=', userId)
          .returningAll()
          .executeTakeFirst();
        if (row) await writeOutbox(trx, removed(row));
        return row;
      });
    },
    /** After a sign-in: the authenticator's new counter and backup state, and when it was used. */
    async recordUse(id: string, use: { counter: number; backedUp: boolean; deviceType: string; at: number }) {
      await db
        .updateTable('passkeys')
        .set({
          counter: use.counter,
          backed_up: use.backedUp ? 1 : 0,
          device_type: use.deviceType,
          last_used_at: use.at,
        })
        .where('id', '=', id)
        .execute();
    },

    async insertChallenge(row: PasskeyChallengeRow): Promise<void> {
      await db.insertInto('passkey_challenges').values(row).execute();
    },
    /**
     * Takes a challenge: deletes it and answers it when it is unexpired and was issued for this
     * purpose to this browser. Deleting is the read, so of two answers racing, one gets it.
     */
    async takeChallenge(
      challengeHash: string,
      purpose: string,
      browserHash: string,
      now: number,
    ): Promise<PasskeyChallengeRow | undefined> {
      return db
        .deleteFrom('passkey_challenges')
        .where('challenge_hash', '=', challengeHash)
        .where('purpose', '=', purpose)
        .where('browser_hash', '=', browserHash)
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst();
    },
    /** Housekeeping: challenges nobody answered in time. */
    async deleteExpiredChallenges(now: number): Promise<void> {
      await db.deleteFrom('passkey_challenges').where('expires_at', '<=', now).execute();
    },
  };
}
export type PasskeysRepo = ReturnType<typeof createPasskeysRepo>;
