import { z } from 'zod';
import { AppError, validationFailed } from '../../http/errors.ts';
import { newId, randomBase62, sha256 } from '../../shared/secrets.ts';
import type { UserRow } from '../../db/schema.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { AccountsRepo, BrowserSessionsRepo } from './accounts.repo.ts';
import type { PasswordHasher } from './passwords.ts';

export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Enter a valid email address' }))
  .transform((e) => e.toLowerCase());

// NIST SP 800-63B: at least 8 characters, allow long passphrases, no composition rules.
export const passwordSchema = z
  .string()
  .min(8, 'Password must be at least 8 characters')
  .max(256, 'Password must be at most 256 characters');

export interface Account {
  id: string;
  email: string;
  name: string | null;
  isAdmin: boolean;
  createdAt: number;
  /** Whether sign-in asks for a second factor (TOTP or a recovery code). */
  twoFactor: boolean;
}

const toAccount = (row: UserRow): Account => ({
  id: row.id,
  email: row.email,
  name: row.name,
  isAdmin: row.is_admin === 1,
  createdAt: row.created_at,
  twoFactor: row.totp_secret_enc !== null,
});

/** Dashboard sessions last a week from sign-in. */
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

export function createAccountsService(deps: {
  accounts: AccountsRepo;
  sessions: BrowserSessionsRepo;
  passwords: PasswordHasher;
  now(): number;
}) {
  const { accounts, sessions, passwords, now } = deps;

  return {
    async signUp(input: { email: unknown; password: unknown; name?: unknown; isAdmin?: boolean }): Promise<Account> {
      const email = emailSchema.safeParse(input.email);
      if (!email.success) throw validationFailed(email.error.issues[0]!.message, 'email');
      const password = passwordSchema.safeParse(input.password);
      if (!password.success) throw validationFailed(password.error.issues[0]!.message, 'password');
      const name = typeof input.name === 'string' && input.name.trim() ? input.name.trim().slice(0, 100) : null;

      if (await accounts.findByEmail(email.data)) {
        throw new AppError('CONFLICT', 'An account with this email already exists', { field: 'email' });
      }
      const t = now();
      const row = {
        id: newId('usr'),
        email: email.data,
        password_hash: await passwords.hash(password.data),
        name,
        is_admin: input.isAdmin ? 1 : 0,
        created_at: t,
        updated_at: t,
        totp_secret_enc: null,
        totp_pending_secret_enc: null,
        totp_enabled_at: null,
        totp_last_step: null,
      };
      try {
        await accounts.insert(row, [buildEvent('user.signed_up', row.id, { id: row.id, email: row.email, name: row.name }, t)]);
      } catch (err) {
        // Two sign-ups racing for one email: the unique index decides.
        if (String((err as Error).message).includes('UNIQUE')) {
          throw new AppError('CONFLICT', 'An account with this email already exists', { field: 'email' });
        }
        throw err;
      }
      return toAccount(row);
    },

    /** The account for these credentials, or null. Unknown email and wrong password cost the same. */
    async authenticate(emailInput: unknown, passwordInput: unknown): Promise<Account | null> {
      const email = emailSchema.safeParse(emailInput);
      const password = typeof passwordInput === 'string' ? passwordInput.slice(0, 256) : '';
      const row = email.success ? await accounts.findByEmail(email.data) : undefined;
      const ok = await passwords.verify(row?.password_hash, password);
      return ok && row ? toAccount(row) : null;
    },

    async findByEmail(emailInput: string): Promise<Account | null> {
      const email = emailSchema.safeParse(emailInput);
      const row = email.success ? await accounts.findByEmail(email.data) : undefined;
      return row ? toAccount(row) : null;
    },

    async findById(id: string): Promise<Account | null> {
      const row = await accounts.findById(id);
      return row ? toAccount(row) : null;
    },

    /** Starts a dashboard session; returns the raw id for the cookie (only its hash is stored). */
    async startSession(userId: string): Promise<{ id: string; expiresAt: number }> {
      const id = randomBase62(43);
      const t = now();
      await sessions.insert({ id_hash: sha256(id), user_id: userId, created_at: t, expires_at: t + SESSION_TTL_MS });
      return { id, expiresAt: t + SESSION_TTL_MS };
    },

    async sessionAccount(id: string): Promise<Account | null> {
      const row = await sessions.findUser(sha256(id), now());
      return row ? toAccount(row) : null;
    },

    /** Checks the current password, sets the new one, and ends the account's other sessions. */
    async changePassword(userId: string, currentSessionId: string, current: unknown, next: unknown): Promise<void> {
      const row = await accounts.findById(userId);
      if (!row || typeof current !== 'string' || !(await passwords.verify(row.password_hash, current))) {
        throw validationFailed('The current password is not right', 'current_password');
      }
      const parsed = passwordSchema.safeParse(next);
      if (!parsed.success) throw validationFailed(parsed.error.issues[0]!.message, 'new_password');
      await accounts.update(userId, { password_hash: await passwords.hash(parsed.data), updated_at: now() });
      await sessions.deleteOthers(userId, sha256(currentSessionId));
    },

    /** Re-checks the password of a signed-in account (before sensitive changes). */
    async passwordMatches(userId: string, password: unknown): Promise<boolean> {
      const row = await accounts.findById(userId);
      return Boolean(row) && typeof password === 'string' && (await passwords.verify(row!.password_hash, password));
    },

    async endSession(id: string): Promise<void> {
      await sessions.delete(sha256(id));
    },
  };
}
export type AccountsService = ReturnType<typeof createAccountsService>;
