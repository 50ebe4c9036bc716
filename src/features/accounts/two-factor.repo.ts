import type { DB } from '../../db/client.ts';
import { writeOutbox, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

/** SQL for TOTP enrollment, the replay guard and recovery codes. */
export function createTwoFactorRepo(db: DB) {
  return {
    async state(userId: string) {
      return db
        .selectFrom('users')
        .select(['totp_secret_enc', 'totp_pending_secret_enc', 'totp_last_step', 'totp_enabled_at'])
        .where('id', '=', userId)
        .executeTakeFirst();
    },
    async setPending(userId: string, sealed: string): Promise<void> {
      await db.updateTable('users').set({ totp_pending_secret_enc: sealed }).where('id', '=', userId).execute();
    },
    /** Turns the pending secret on and stores fresh recovery codes, atomically, with `events`. */
    async enable(
      userId: string,
      sealed: string,
      step: number,
      codeHashes: string[],
      at: number,
      events: TransactionalEvent[] = [],
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({
            totp_secret_enc: sealed,
            totp_pending_secret_enc: null,
            totp_enabled_at: at,
            totp_last_step: step,
            updated_at: at,
          })
          .where('id', '=', userId)
          .execute();
        await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        await trx
          .insertInto('recovery_codes')
          .values(codeHashes.map((h) => ({ code_hash: h, user_id: userId, used_at: null, created_at: at })))
          .execute();
        await writeOutbox(trx, events);
      });
    },
    /** Turns the second factor off and drops its recovery codes, atomically, with `events`. */
    async disable(userId: string, at: number, events: TransactionalEvent[] = []): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('users')
          .set({
            totp_secret_enc: null,
            totp_pending_secret_enc: null,
            totp_enabled_at: null,
            totp_last_step: null,
            updated_at: at,
          })
          .where('id', '=', userId)
          .execute();
        await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
        await writeOutbox(trx, events);
      });
    },
    /** Accepts a TOTP step only if it is later than the last accepted one (compare-and-set). */
    async advanceStep(userId: string, step: number): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ totp_last_step: step })
        .where('id', '=', userId)
        .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    /** Spends a recovery code once (compare-and-set on used_at). */
    async useRecoveryCode(userId: string, codeHash: string, at: number): Promise<boolean> {
      const result = await db
        .updateTable('recovery_codes')
        .set({ used_at: at })
        .where('code_hash', '=', codeHash)
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    async unusedRecoveryCodes(userId: string): Promise<number> {
      const row = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}
export type TwoFactorRepo = ReturnType<typeof createTwoFactorRepo>;
