import type { DB } from '../../db/client.ts';

export type EmailLinkPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface EmailLinkRow {
  token_hash: string;
  user_id: string;
  purpose: EmailLinkPurpose;
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Single-use emailed links, by the SHA-256 of their token. */
export function createEmailLinksRepo(db: DB) {
  return {
    async insert(row: Omit<EmailLinkRow, 'used_at'>, trx: DB = db): Promise<void> {
      await trx.insertInto('email_links').values(row).execute();
    },

    /**
     * Uses the link once: marks it used when it exists, has this purpose, is unused and unexpired,
     * in one statement, so two concurrent uses cannot both succeed. Undefined otherwise.
     */
    async use(purpose: EmailLinkPurpose, tokenHash: string, at: number, trx: DB = db) {
      const row = await trx
        .updateTable('email_links')
        .set({ used_at: at })
        .where('token_hash', '=', tokenHash)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .returningAll()
        .executeTakeFirst();
      return row as EmailLinkRow | undefined;
    },

    /** The link if it could still be used (a page shows its form before the POST uses it). */
    async findUsable(purpose: EmailLinkPurpose, tokenHash: string, at: number) {
      const row = await db
        .selectFrom('email_links')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .executeTakeFirst();
      return row as EmailLinkRow | undefined;
    },

    /** Ends every unused link of the account for this purpose (a newer one, or the thing was done). */
    async retire(userId: string, purpose: EmailLinkPurpose, at: number, trx: DB = db): Promise<number> {
      const result = await trx
        .updateTable('email_links')
        .set({ used_at: at })
        .where('user_id', '=', userId)
        .where('purpose', '=', purpose)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    /** Drops links that expired or were used before `before` (housekeeping). */
    async deleteSettled(before: number): Promise<void> {
      await db
        .deleteFrom('email_links')
        .where((eb) => eb.or([eb('expires_at', '<', before), eb('used_at', '<', before)]))
        .execute();
    },
  };
}
export type EmailLinksRepo = ReturnType<typeof createEmailLinksRepo>;
