import type { Account } from '../../domain/account.ts';
import type { AuditRecord, Provenance } from '../../domain/audit.ts';
import type { Audit } from './audit.ts';
import { accountActor, ANONYMOUS_SIGN_IN } from './actors.ts';

// The records every sign-in path (the dashboard's and the OAuth login forms, passkeys, the second
// factor) writes, so that they read the same whichever path was taken.

/** Why a sign-in was refused, as the audit trail's `sign_in.failed` says. */
export type SignInFailure =
  | 'unknown_account'
  | 'wrong_password'
  | 'wrong_second_factor'
  | 'account_disabled'
  | 'unknown_passkey'
  | 'wrong_passkey';

/** The audit trail as sign-in uses it: records built from the request, and appended on their own. */
export interface SignInTrail {
  audit: Audit;
  /** Writes records that go with no other change (a refused sign-in). */
  append(records: AuditRecord[]): Promise<void>;
}

/** The email of an unknown account is kept as typed (it may be a typo worth seeing), this long at most. */
export const MAX_TYPED_EMAIL = 254;

/** `sign_in.succeeded` for `account`, which acts (nobody is signed in yet). */
export function signInSucceeded(
  audit: Audit,
  by: Provenance,
  account: Account,
  method: 'password' | 'passkey',
  amr: string[],
  extra: Record<string, unknown> = {},
) {
  return audit.event(
    'sign_in.succeeded',
    {
      account: account.id,
      target: { type: 'account', id: account.id },
      actor: accountActor(account),
      data: { method, amr, ...extra },
    },
    by,
  );
}

/**
 * `sign_in.failed`: by the account the attempt named (null: none, an anonymous attempt), with
 * `extra` data (the email as typed, for an unknown account).
 */
export function signInFailed(
  audit: Audit,
  by: Provenance,
  account: Account | null,
  method: 'password' | 'passkey',
  reason: SignInFailure,
  extra: Record<string, unknown> = {},
) {
  return audit.event(
    'sign_in.failed',
    {
      account: account?.id ?? null,
      target: account ? { type: 'account', id: account.id } : null,
      actor: account ? accountActor(account) : ANONYMOUS_SIGN_IN,
      data: { method, reason, ...extra },
    },
    by,
  );
}
