import type { Account } from '../../domain/account.ts';
import type { MailService } from '../email/mail.service.ts';
import type { AccountsService, SignUpInput } from './accounts.service.ts';
import type { EmailLinks } from './email-links.ts';
import type { Provenance } from '../../domain/audit.ts';

/**
 * Proving an account's email address: sign-up from the public form sends a link (or, for an
 * address that already has an account, tells its owner), the link marks the address verified, and
 * an unverified account can ask for a new one. Nothing here answers differently for a registered
 * address: the difference is only in the mail, which goes to the address's owner.
 */
export function createEmailVerification(deps: {
  accounts: AccountsService;
  links: EmailLinks;
  mail: Pick<MailService, 'enqueue'>;
}) {
  const { accounts, links, mail } = deps;

  async function sendLink(account: Pick<Account, 'id' | 'email' | 'name'>): Promise<void> {
    const token = await links.issue(account.id, 'verify_email', account.email);
    await mail.enqueue(account.email, 'verify-email', { name: account.name, token });
  }

  return {
    sendLink,

    /**
     * The public sign-up form: a new address gets an account and a verification link; a registered
     * one gets "someone tried to sign up with your address", and its account is left as it is.
     * Both take a password hash; the caller answers the same "check your inbox" either way.
     */
    async signUp(input: SignUpInput, by: Provenance): Promise<void> {
      const { account, created } = await accounts.register(input, by);
      if (created) return sendLink(account);
      await mail.enqueue(account.email, 'signup-existing', { name: account.name });
    },

    /** Whether the link would verify an address (the page shows its button first). */
    async usable(token: unknown): Promise<boolean> {
      return (await links.peek('verify_email', token)) !== null;
    },

    /**
     * Uses the link: the address it was sent to becomes verified, if it is still the account's.
     * The account, or null when the link is unknown, used, expired or of another kind.
     */
    async verify(token: unknown): Promise<{ userId: string } | null> {
      const used = await links.use('verify_email', token);
      if (!used) return null;
      await accounts.markEmailVerified(used.userId, used.email);
      await links.retire(used.userId, 'verify_email');
      return { userId: used.userId };
    },
  };
}
export type EmailVerification = ReturnType<typeof createEmailVerification>;
