import type { UserRow } from './schema.ts';

/**
 * The row of a new account: no second factor, never signed in. Its callers (sign-up, first-run
 * setup, the holder of self-registered clients) differ only in who it is, whether it is an admin
 * and whether its address is already proven.
 */
export function newUserRow(fields: {
  id: string;
  email: string;
  /** argon2id; a value that is not an argon2 hash ('!') makes every password check fail. */
  passwordHash: string;
  name: string | null;
  isAdmin: boolean;
  t: number;
  emailVerifiedAt: number | null;
}): UserRow {
  return {
    id: fields.id,
    email: fields.email,
    password_hash: fields.passwordHash,
    name: fields.name,
    is_admin: fields.isAdmin ? 1 : 0,
    created_at: fields.t,
    updated_at: fields.t,
    totp_secret_enc: null,
    totp_pending_secret_enc: null,
    totp_enabled_at: null,
    totp_last_step: null,
    sign_in_count: 0,
    email_verified_at: fields.emailVerifiedAt,
    is_auditor: 0,
    disabled_at: null,
  };
}
