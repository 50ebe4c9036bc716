import type { Logger } from 'pino';
import type { DB } from '../../db/client.ts';
import type { MailService } from '../email/mail.service.ts';

/** A change to an account that its owner should hear about by email, whoever made it. */
export type SecurityEvent =
  | { kind: 'password_changed' }
  | { kind: 'password_reset' }
  /** Sent to the address the account had before; `newEmail` is where it moved. */
  | { kind: 'email_changed'; newEmail: string }
  | { kind: 'two_factor_enabled' }
  | { kind: 'two_factor_disabled' }
  | { kind: 'passkey_added'; name: string }
  | { kind: 'passkey_removed'; name: string }
  | { kind: 'api_key_created'; name: string; prefix: string };

/** What each notice says: a headline and one sentence, never a secret. */
function wording(event: SecurityEvent): { headline: string; detail: string } {
  switch (event.kind) {
    case 'password_changed':
      return { headline: 'Your password was changed', detail: 'The password of your account was changed.' };
    case 'password_reset':
      return {
        headline: 'Your password was reset',
        detail: 'The password of your account was reset with a link sent to this address.',
      };
    case 'email_changed':
      return {
        headline: 'Your email address was changed',
        detail: `Your account now signs in with ${event.newEmail}; this address no longer belongs to it.`,
      };
    case 'two_factor_enabled':
      return {
        headline: 'Two-factor authentication is on',
        detail: 'An authenticator app now protects sign-in to your account.',
      };
    case 'two_factor_disabled':
      return {
        headline: 'Two-factor authentication is off',
        detail: 'Sign-in to your account no longer asks for a code from an authenticator app.',
      };
    case 'passkey_added':
      return {
        headline: 'A passkey was added',
        detail: `The passkey "${event.name}" can now sign in to your account.`,
      };
    case 'passkey_removed':
      return {
        headline: 'A passkey was removed',
        detail: `The passkey "${event.name}" can no longer sign in to your account.`,
      };
    case 'api_key_created':
      return {
        headline: 'A new API key was created',
        detail: `The API key "${event.name}" (${event.prefix}…) was created for your account.`,
      };
  }
}

/**
 * Tells an account's owner by email about a change to its security (password, address, second
 * factors, passkeys, API keys), with what to do if it was not them. A notice that cannot be queued
 * is logged and never undoes or fails the change it reports.
 */
export function createSecurityNotices(deps: {
  mail: Pick<MailService, 'enqueue'>;
  findAccount(id: string): Promise<{ email: string; name: string | null } | undefined | null>;
  logger: Logger;
  now(): number;
}) {
  return {
    async notify(userId: string, event: SecurityEvent, options: { to?: string; trx?: DB } = {}): Promise<void> {
      try {
        const account = await deps.findAccount(userId);
        if (!account) return;
        await deps.mail.enqueue(
          options.to ?? account.email,
          'security-notice',
          { ...wording(event), name: account.name, when: new Date(deps.now()).toUTCString() },
          options.trx,
        );
      } catch (err) {
        deps.logger.error({ err, userId, kind: event.kind }, 'could not queue a security notice');
      }
    },
  };
}
export type SecurityNotices = ReturnType<typeof createSecurityNotices>;
export type Notify = SecurityNotices['notify'];
