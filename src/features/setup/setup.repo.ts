import type { DB } from '../../db/client.ts';
import type { NewUserRow } from '../../db/schema.ts';
import { writeOutbox, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

/** Why creating the owner was refused, decided inside its transaction (which is then rolled back). */
export class SetupRefused extends Error {
  constructor(readonly reason: 'link' | 'done') {
    super(reason === 'link' ? 'setup link not valid' : 'an admin already exists');
  }
}

/** First-run setup: its links (by the SHA-256 of their token) and the owner account they create. */
export function createSetupRepo(db: DB) {
  const adminIn = async (q: DB) =>
    (await q.selectFrom('users').select('id').where('is_admin', '=', 1).limit(1).executeTakeFirst()) !== undefined;
  return {
    adminExists: () => adminIn(db),
    async insertToken(row: { token_hash: string; created_at: number; expires_at: number }): Promise<void> {
      await db.insertInto('setup_tokens').values(row).execute();
    },
    async deleteExpired(now: number): Promise<void> {
      await db.deleteFrom('setup_tokens').where('expires_at', '<=', now).execute();
    },
    /** Every token, once an admin exists: the links are worth nothing then, and should not linger. */
    async deleteAll(): Promise<void> {
      await db.deleteFrom('setup_tokens').execute();
    },
    async tokenIsLive(tokenHash: string, now: number): Promise<boolean> {
      const row = await db
        .selectFrom('setup_tokens')
        .select('token_hash')
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row !== undefined;
    },
    /**
     * Creates the owner in one transaction: every setup token is deleted first (so two instances'
     * links, used at once, meet on the same rows: on PostgreSQL the second waits for the first to
     * commit, then finds nothing left), then the presented one must have been among them, unexpired,
     * and no admin may exist yet. Any refusal throws `SetupRefused` and rolls the deletion back, so
     * a wrong link retires no one else's. A duplicate email fails the unique index: the caller decides.
     */
    async createOwner(tokenHash: string, now: number, user: NewUserRow, events: TransactionalEvent[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const retired = await trx.deleteFrom('setup_tokens').returning(['token_hash', 'expires_at']).execute();
        if (!retired.some((t) => t.token_hash === tokenHash && t.expires_at > now)) throw new SetupRefused('link');
        if (await adminIn(trx)) throw new SetupRefused('done');
        await trx.insertInto('users').values(user).execute();
        await writeOutbox(trx, events);
      });
    },
  };
}
export type SetupRepo = ReturnType<typeof createSetupRepo>;
