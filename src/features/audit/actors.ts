import type { Account } from '../../domain/account.ts';
import type { AuditActor } from '../../domain/audit.ts';

/**
 * The person acting as `account` in a browser: who signs in (before any session names them), or
 * whose signed-in session makes a change. The label keeps the email of the time, readable after
 * the account is gone.
 */
export const accountActor = (account: Pick<Account, 'id' | 'email'>): AuditActor => ({
  type: 'user',
  id: account.id,
  accountId: account.id,
  label: account.email,
});

/** Someone presenting a sign-in that names no account (an unknown email or passkey). */
export const ANONYMOUS_SIGN_IN: AuditActor = { type: 'anonymous', id: null, accountId: null, label: null };
