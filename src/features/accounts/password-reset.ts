import type { Provenance } from '../../domain/audit.ts';
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
  revokeApplications(userId: string, by: Provenance): Promise<void>;
}) {
  const { accounts, links, mail } = deps;
  const inFlight = new Set<Promise<void>>();

  /**
   * Mails a reset link to the account with this address, if there is one (nothing otherwise).
   * `returnTo` is a same-site path the done page offers to go back to (the OAuth sign-in).
   */
  async function request(email: string, returnTo: string | null): Promise<void> {
    const account = await accounts.findByEmail(email);
    if (!account) return;
    const token = await links.issue(account.id, 'reset_password', account.email);
    await mail.enqueue(account.email, 'password-reset', { name: account.name, token, returnTo });
  }

  return {
    request,

    /**
     * `request`, without waiting for it: an address with an account costs a few more writes than
     * one without, and an answer that waited for them would tell the two apart by its time.
     */
    requestInBackground(email: string, returnTo: string | null, onError: (err: unknown) => void): void {
      // After the answer is on its way (a later turn of the event loop), not in the same turn.
      const running: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => request(email, returnTo))
        .catch(onError)
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    },

    /** Resolves once every request started in the background is done (shutdown, tests). */
    async idle(): Promise<void> {
      while (inFlight.size) await Promise.all([...inFlight]);
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
    async reset(token: unknown, next: unknown, by: Provenance): Promise<ResetOutcome> {
      const link = await links.peek('reset_password', token);
      if (!link) return { ok: false, reason: 'link' };
      const hash = await accounts.hashNewPassword(link.userId, next);
      const used = await links.use('reset_password', token);
      if (!used) return { ok: false, reason: 'link' };
      await links.retire(used.userId, 'reset_password');
      await accounts.resetPassword(used.userId, hash, used.email, by);
      await deps.revokeApplications(used.userId, by);
      await deps.notify(used.userId, { kind: 'password_reset' });
      return { ok: true };
    },
  };
}
export type PasswordReset = ReturnType<typeof createPasswordReset>;
