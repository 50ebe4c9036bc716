import type { MailService } from '../email/mail.service.ts';
import type { AccountsService } from './accounts.service.ts';
import type { EmailLinks } from './email-links.ts';
import type { Notify } from './security-notices.ts';

/** Why a reset did not happen: the link cannot be used (ask for another), or the password was refused. */
export type ResetOutcome = { ok: true } | { ok: false; reason: 'link' };

/**
 * "Forgot password?": a single-use link by email (30 minutes), then a new password. Asking says
 * nothing about whether the address has an account; only its owner's inbox learns that.
 */
export function createPasswordReset(deps: {
  accounts: AccountsService;
  links: EmailLinks;
  mail: Pick<MailService, 'enqueue'>;
  notify: Notify;
  /** Takes back every application's access of the account (grants, refresh and access tokens). */
  revokeApplications(userId: string): Promise<void>;
}) {
  const { accounts, links, mail } = deps;

  return {
    /**
     * Mails a reset link to the account with this address, if there is one (nothing otherwise).
     * `returnTo` is a same-site path the done page offers to go back to (the OAuth sign-in).
     */
    async request(email: string, returnTo: string | null): Promise<void> {
      const account = await accounts.findByEmail(email);
      if (!account) return;
      const token = await links.issue(account.id, 'reset_password', account.email);
      await mail.enqueue(account.email, 'password-reset', { name: account.name, token, returnTo });
    },

    /** Whether the link would still reset a password (the form is shown only then). */
    async usable(token: unknown): Promise<boolean> {
      return (await links.peek('reset_password', token)) !== null;
    },

    /**
     * Sets the new password with the link. The password is checked first (a ValidationError leaves
     * the link usable, to try another); then the link is used, once, whoever else tries it at the
     * same moment. A reset ends every session of the account, revokes every application's access
     * (whoever knew the old password may hold either), retires the account's other reset links,
     * marks the address verified and tells the owner.
     */
    async reset(token: unknown, next: unknown): Promise<ResetOutcome> {
      const link = await links.peek('reset_password', token);
      if (!link) return { ok: false, reason: 'link' };
      const hash = await accounts.hashNewPassword(link.userId, next);
      const used = await links.use('reset_password', token);
      if (!used) return { ok: false, reason: 'link' };
      await links.retire(used.userId, 'reset_password');
      await accounts.resetPassword(used.userId, hash, used.email);
      await deps.revokeApplications(used.userId);
      await deps.notify(used.userId, { kind: 'password_reset' });
      return { ok: true };
    },
  };
}
export type PasswordReset = ReturnType<typeof createPasswordReset>;
