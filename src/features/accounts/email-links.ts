import type { DB } from '../../db/client.ts';
import { randomBase62, sha256 } from '../../shared/secrets.ts';
import type { EmailLinkPurpose, EmailLinksRepo } from './email-links.repo.ts';

/** How long each kind of link works once sent. */
export const LINK_TTL_MS: Record<EmailLinkPurpose, number> = {
  verify_email: 24 * 3_600_000,
  // A reset link is a password: short-lived.
  reset_password: 30 * 60_000,
  change_email: 24 * 3_600_000,
};

// 43 base62 characters: 256 bits, beyond guessing; anything else is refused before a lookup.
const TOKEN_LENGTH = 43;
const TOKEN_SHAPE = /^[0-9A-Za-z]{43}$/;

export interface UsedLink {
  userId: string;
  /** The address the link was sent to (for a change of address, the new one). */
  email: string;
}

/**
 * Single-use links sent by email. The token goes into the link and only its SHA-256 is stored;
 * using a link is one conditional update, so a link works once even when clicked twice at once.
 */
export function createEmailLinks(deps: { repo: EmailLinksRepo; now(): number }) {
  const { repo, now } = deps;
  const hashOf = (token: unknown) => (typeof token === 'string' && TOKEN_SHAPE.test(token) ? sha256(token) : null);

  return {
    /** A new link's token for the account; earlier unused links of the same purpose stop working. */
    async issue(userId: string, purpose: EmailLinkPurpose, email: string, trx?: DB): Promise<string> {
      const token = randomBase62(TOKEN_LENGTH);
      const at = now();
      await repo.retire(userId, purpose, at, trx);
      await repo.insert(
        {
          token_hash: sha256(token),
          user_id: userId,
          purpose,
          email,
          created_at: at,
          expires_at: at + LINK_TTL_MS[purpose],
        },
        trx,
      );
      return token;
    },

    /** Uses the link: who it belongs to, or null when it is unknown, used, expired or of another kind. */
    async use(purpose: EmailLinkPurpose, token: unknown, trx?: DB): Promise<UsedLink | null> {
      const hash = hashOf(token);
      const row = hash ? await repo.use(purpose, hash, now(), trx) : undefined;
      return row ? { userId: row.user_id, email: row.email } : null;
    },

    /** Whether the link would still work, without using it (a page shows its form first). */
    async peek(purpose: EmailLinkPurpose, token: unknown): Promise<UsedLink | null> {
      const hash = hashOf(token);
      const row = hash ? await repo.findUsable(purpose, hash, now()) : undefined;
      return row ? { userId: row.user_id, email: row.email } : null;
    },

    /** Ends the account's unused links of this purpose (the thing they were for was done another way). */
    async retire(userId: string, purpose: EmailLinkPurpose, trx?: DB): Promise<void> {
      await repo.retire(userId, purpose, now(), trx);
    },

    /** Housekeeping: forgets links settled more than a day ago. */
    async prune(): Promise<void> {
      await repo.deleteSettled(now() - 86_400_000);
    },
  };
}
export type EmailLinks = ReturnType<typeof createEmailLinks>;
