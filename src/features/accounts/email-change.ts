import { ValidationError } from '../../domain/errors.ts';
import { emailSchema } from '../../wire/accounts.ts';
import type { MailService } from '../email/mail.service.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { AccountsRepo } from './accounts.repo.ts';
import type { EmailLinks } from './email-links.ts';
import type { Notify } from './security-notices.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';

/** Where a change-of-address link leads (a page that asks to confirm; only its POST uses the link). */
export const CONFIRM_EMAIL_PATH = '/settings/account/email/confirm';

/** What became of a confirmation. */
export type EmailChangeOutcome =
  | { ok: true; email: string; previous: string }
  /** Unknown, used, expired, or another account's link: nothing changed. */
  | { ok: false; reason: 'unusable' }
  /** The address was taken by another account since the link was sent: nothing changed. */
  | { ok: false; reason: 'taken' };

/**
 * Changing an account's email address. The new address must prove itself: a request only mails a
 * single-use link (24 h) to it, and the address changes when the signed-in owner uses that link.
 * The request answers the same whether or not the address belongs to another account (that
 * address is told so by mail, with no link), so the form never reveals who has an account.
 */
export function createEmailChange(deps: {
  accounts: AccountsRepo;
  links: EmailLinks;
  mail: Pick<MailService, 'enqueue'>;
  notify: Notify;
  /** Signs the account out everywhere but this browser (dashboard and provider sessions). */
  endOtherSessions(userId: string, currentSessionId: string, keepProviderLink: string | null): Promise<unknown>;
  /** Every cache holding the account (its email among its claims) forgets it. */
  onChanged(userId: string): void;
  /** Records the change of address (old and new), written with it. */
  audit: Audit;
  issuer: string;
  now(): number;
}) {
  const { accounts, links, mail } = deps;

  /** The new address a link would set, if it is usable and the account's own (the page asks first). */
  async function pending(userId: string, token: unknown): Promise<string | null> {
    const link = await links.peek('change_email', token);
    return link && link.userId === userId ? link.email : null;
  }

  return {
    /**
     * Mails the new address a confirmation link (or, when another account has it, a notice with
     * no link); returns the address as it will be kept (trimmed, lower-cased). Earlier unused
     * links of the account stop working either way: the latest request is the one that counts.
     */
    async request(userId: string, input: unknown): Promise<string> {
      const parsed = emailSchema.safeParse(input);
      if (!parsed.success) throw new ValidationError(parsed.error.issues[0]!.message, 'email');
      const email = parsed.data;
      const owner = await accounts.findById(userId);
      if (!owner) throw new ValidationError('Your account no longer exists', 'email');
      if (owner.email === email) throw new ValidationError('That is already your email address', 'email');
      const holder = await accounts.findByEmail(email);
      await accounts.transaction(async (trx) => {
        await links.retire(userId, 'change_email', trx);
        if (holder) {
          await mail.enqueue(email, 'email-change-taken', { signInUrl: `${deps.issuer}/login` }, trx);
          return;
        }
        const token = await links.issue(userId, 'change_email', email, trx);
        const link = `${deps.issuer}${CONFIRM_EMAIL_PATH}?token=${token}`;
        await mail.enqueue(email, 'email-change', { name: owner.name, email, link }, trx);
      });
      return email;
    },

    pending,

    /**
     * Uses the link, signed in as its account: the address changes and is verified, links sent to
     * the old address (password reset, verification) stop working, and the `user.email_changed`
     * event is written, in one transaction. Then the old address is told, and every other session
     * of the account is signed out (this browser stays): the address is how the account signs in
     * and resets its password, so it is treated like a password change.
     */
    async confirm(
      userId: string,
      token: unknown,
      session: { id: string; providerLink: string | null },
      by: Provenance,
    ): Promise<EmailChangeOutcome> {
      // Another account's link is refused before it is used, so its owner can still use it.
      if ((await pending(userId, token)) === null) return { ok: false, reason: 'unusable' };
      const owner = await accounts.findById(userId);
      if (!owner) return { ok: false, reason: 'unusable' };
      let outcome: EmailChangeOutcome;
      try {
        outcome = await accounts.transaction(async (trx): Promise<EmailChangeOutcome> => {
          const used = await links.use('change_email', token, trx);
          if (!used || used.userId !== userId) return { ok: false, reason: 'unusable' };
          const holder = await accounts.findByEmailIn(trx, used.email);
          if (holder && holder.id !== userId) return { ok: false, reason: 'taken' };
          const at = deps.now();
          const event = buildEvent('user.email_changed', userId, { id: userId, email: used.email }, at);
          const recorded = deps.audit.event(
            'email.changed',
            {
              account: userId,
              target: { type: 'account', id: userId },
              data: { old_email: owner.email, new_email: used.email },
            },
            by,
          );
          await accounts.changeEmail(trx, userId, used.email, at, [event, recorded]);
          await links.retire(userId, 'reset_password', trx);
          await links.retire(userId, 'verify_email', trx);
          return { ok: true, email: used.email, previous: owner.email };
        });
      } catch (err) {
        // Another account took the address between the check and the write: the unique index says no.
        if (isUniqueViolation(err)) return { ok: false, reason: 'taken' };
        throw err;
      }
      if (!outcome.ok) return outcome;
      deps.onChanged(userId);
      await deps.notify(userId, { kind: 'email_changed', newEmail: outcome.email }, { to: outcome.previous });
      await deps.endOtherSessions(userId, session.id, session.providerLink);
      return outcome;
    },
  };
}
export type EmailChange = ReturnType<typeof createEmailChange>;
