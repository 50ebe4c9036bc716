import type { Account } from '../../domain/account.ts';
import { Conflict, NotFound, ValidationError } from '../../domain/errors.ts';
import { emailSchema } from '../../wire/accounts.ts';
import { newId, randomBase62, sha256 } from '../../shared/secrets.ts';
import type { UserRow } from '../../db/schema.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import { newUserRow } from '../../db/new-user-row.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { AccountsRepo, BrowserSessionsRepo } from './accounts.repo.ts';
import type { PasswordHasher } from './passwords.ts';
import { describeDevice, storableUserAgent } from './device.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { Notify } from './security-notices.ts';
import type { Audit } from '../audit/audit.ts';
import { accountActor } from '../audit/actors.ts';
import type { AuditRecord, Provenance } from '../../domain/audit.ts';

const toAccount = (row: UserRow): Account => ({
  id: row.id,
  email: row.email,
  name: row.name,
  isAdmin: row.is_admin === 1,
  isAuditor: row.is_auditor === 1,
  disabled: row.disabled_at !== null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  twoFactor: row.totp_secret_enc !== null,
  signInCount: row.sign_in_count,
  emailVerified: row.email_verified_at !== null,
});

/**
 * A new account as a form or the API sends it. The service still applies the account rules to it
 * (an email is trimmed, lower-cased and checked; a password meets the password policy) whoever calls.
 */
export interface SignUpInput {
  email: string;
  password: string;
  name?: string | null;
}

/** Dashboard sessions last a week from sign-in. */
const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;
/** "Last seen" is kept to the minute: a session's use is written at most this often, not per request. */
export const LAST_SEEN_RESOLUTION_MS = 60_000;

/** The browser a session starts in, as the request shows it. */
export interface SessionClient {
  userAgent?: string | undefined;
  ip?: string | undefined;
}

/** A live dashboard session, as the pages read it from the cookie. */
export interface SessionOfAccount {
  account: Account;
  authenticatedAt: number;
  lastSeenAt: number;
  providerLink: string | null;
  amr: string[];
}

/** A dashboard session as Settings → Sessions shows it. */
export interface SessionListing {
  /** The handle its sign-out form names (null: a session too old to have one). */
  id: string | null;
  device: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: number;
  lastSeenAt: number;
  /** The browser looking at the list. */
  current: boolean;
}

export function createAccountsService(deps: {
  accounts: AccountsRepo;
  sessions: BrowserSessionsRepo;
  /** oidc-provider's sessions (the `_session` cookie) of an account, ended with its dashboard sessions. */
  providerSessions: {
    deleteByAccount(accountId: string): Promise<void>;
    /** One provider session of the account, by the SHA-256 of its uid. */
    deleteOne(accountId: string, uidHash: string): Promise<void>;
    /** Every provider session of the account but one (by the SHA-256 of its uid; null: none kept). */
    deleteAllBut(accountId: string, keepUidHash: string | null): Promise<void>;
  };
  passwords: PasswordHasher;
  /** What a new password must be (length and strength), on every path that sets one. */
  passwordPolicy: PasswordPolicy;
  /** Tells the owner by email of a change to the account's security. */
  notify?: Notify;
  /** Records accounts created, passwords changed and reset, and sign-ins, written with the change. */
  audit: Audit;
  now(): number;
}) {
  const { accounts, sessions, passwords, passwordPolicy, audit, now } = deps;
  const accountTarget = (id: string) => ({ type: 'account', id });

  const parseSignUp = async (input: SignUpInput) => {
    const email = emailSchema.safeParse(input.email);
    if (!email.success) throw new ValidationError(email.error.issues[0]!.message, 'email');
    const name = typeof input.name === 'string' && input.name.trim() ? input.name.trim().slice(0, 100) : null;
    const password = await passwordPolicy.check(input.password, { email: email.data, name });
    return { email: email.data, password, name };
  };

  /**
   * `bySelf`: the person signing up on the public form, who is nobody yet, so the trail names the
   * new account as its own creator; otherwise the request's credential (an admin) or the CLI did.
   */
  async function signUp(
    input: SignUpInput & { isAdmin?: boolean; bySelf?: boolean },
    by: Provenance,
  ): Promise<Account> {
    const { email, password, name } = await parseSignUp(input);
    if (await accounts.findByEmail(email)) {
      throw new Conflict('An account with this email already exists', 'email');
    }
    const t = now();
    const row = newUserRow({
      id: newId('usr'),
      email,
      passwordHash: await passwords.hash(password),
      name,
      isAdmin: input.isAdmin ?? false,
      t,
      emailVerifiedAt: null,
    });
    try {
      await accounts.insert(row, [
        buildEvent('user.signed_up', row.id, { id: row.id, email: row.email, name: row.name }, t),
        audit.event(
          'account.created',
          {
            account: row.id,
            target: accountTarget(row.id),
            data: { email: row.email, is_admin: row.is_admin === 1 },
            ...(input.bySelf && { actor: accountActor(row) }),
          },
          by,
        ),
      ]);
    } catch (err) {
      // Two sign-ups racing for one email: the unique index decides.
      if (isUniqueViolation(err)) {
        throw new Conflict('An account with this email already exists', 'email');
      }
      throw err;
    }
    return toAccount(row);
  }

  /**
   * The account an email names (null: none) and a check of a password against it, from one read:
   * the sign-in form needs the account before the check (its throttle key) and the check itself.
   * An unknown email's check costs what a wrong password does and never matches.
   */
  async function signInCandidate(
    emailInput: string,
  ): Promise<{ account: Account | null; passwordMatches(password: string): Promise<boolean> }> {
    const email = emailSchema.safeParse(emailInput);
    const row = email.success ? await accounts.findByEmail(email.data) : undefined;
    return {
      account: row ? toAccount(row) : null,
      async passwordMatches(passwordInput) {
        const password = passwordInput.slice(0, 256);
        return (await passwords.verify(row?.password_hash, password)) && row !== undefined;
      },
    };
  }

  return {
    signUp,

    /**
     * Sign-up from the public form, which must not tell whether an email is registered: a new
     * email gets an account, a registered one is left as it is, and both cost one password hash
     * (timing says nothing either). Which it was is for the caller's mail, never for its answer.
     */
    async register(input: SignUpInput, by: Provenance): Promise<{ account: Account; created: boolean }> {
      const { email, password } = await parseSignUp(input);
      const existing = await accounts.findByEmail(email);
      if (existing) {
        await passwords.hash(password);
        return { account: toAccount(existing), created: false };
      }
      try {
        return { account: await signUp({ ...input, bySelf: true }, by), created: true };
      } catch (err) {
        if (!(err instanceof Conflict)) throw err;
        // Lost a race for the email: the other sign-up's account is the existing one.
        const winner = await accounts.findByEmail(email);
        if (!winner) throw err;
        return { account: toAccount(winner), created: false };
      }
    },

    /** The address was proven by a link sent to it, if it is still the account's. */
    async markEmailVerified(userId: string, email: string): Promise<boolean> {
      return accounts.markEmailVerified(userId, email, now());
    },

    /**
     * A new password for the account, checked against the policy and hashed; nothing is changed
     * yet (a reset link is used only once the password is acceptable). Throws ValidationError.
     */
    async hashNewPassword(userId: string, next: unknown): Promise<string> {
      const owner = await accounts.findById(userId);
      if (!owner) throw new NotFound('Account');
      const password = await passwordPolicy.check(typeof next === 'string' ? next : '', owner, 'new_password');
      return passwords.hash(password);
    },

    /**
     * The password was reset by a link sent to `provenEmail`: sets the new hash, marks that address
     * verified (the person showed they read its mail) and signs the account out everywhere, every
     * dashboard session and every OAuth (provider) session, this browser's included.
     */
    async resetPassword(userId: string, passwordHash: string, provenEmail: string, by: Provenance): Promise<void> {
      const owner = await accounts.findById(userId);
      if (!owner) throw new NotFound('Account');
      // Nobody is signed in: whoever holds the link acts as the account.
      await accounts.update(userId, { password_hash: passwordHash, updated_at: now() }, [
        audit.event(
          'password.reset',
          { account: userId, target: accountTarget(userId), actor: accountActor(owner) },
          by,
        ),
      ]);
      await accounts.markEmailVerified(userId, provenEmail, now());
      await sessions.deleteAllOf(userId);
      await deps.providerSessions.deleteByAccount(userId);
    },

    signInCandidate,

    /** The account for these credentials, or null. Unknown email and wrong password cost the same. */
    async authenticate(emailInput: string, passwordInput: string): Promise<Account | null> {
      const candidate = await signInCandidate(emailInput);
      return (await candidate.passwordMatches(passwordInput)) ? candidate.account : null;
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

    /** A sign-in completed (password, and the second factor when on), with its audit records. */
    async recordSignIn(userId: string, records: AuditRecord[] = []): Promise<void> {
      await accounts.countSignIn(userId, records);
    },

    /**
     * Starts a dashboard session right after an interactive sign-in; returns the raw id for the
     * cookie (only its hash is stored). `amr` says how the person authenticated (RFC 8176 values):
     * an OAuth sign-in completed from this session later reports exactly that.
     */
    async startSession(
      userId: string,
      client: SessionClient = {},
      amr: readonly string[],
    ): Promise<{ id: string; expiresAt: number }> {
      const id = randomBase62(43);
      const t = now();
      await sessions.insert({
        id_hash: sha256(id),
        user_id: userId,
        created_at: t,
        expires_at: t + SESSION_TTL_MS,
        authenticated_at: t,
        public_id: newId('ses'),
        user_agent: storableUserAgent(client.userAgent),
        ip: client.ip ? client.ip.slice(0, 64) : null,
        last_seen_at: t,
        amr: amr.join(' '),
      });
      return { id, expiresAt: t + SESSION_TTL_MS };
    },

    /**
     * The session's account, when the session last authenticated interactively (0: never), when it
     * was last seen, the hash of its linked provider session's uid (null: none), and how it was
     * authenticated (empty: not recorded).
     */
    async sessionAccount(id: string): Promise<SessionOfAccount | null> {
      const row = await sessions.findUser(sha256(id), now());
      // A disabled account's sessions are ended when it is disabled; one started in a race ends here.
      if (!row || row.disabled_at !== null) return null;
      return {
        account: toAccount(row),
        authenticatedAt: row.authenticated_at ?? 0,
        lastSeenAt: row.last_seen_at ?? 0,
        providerLink: row.provider_session_uid_hash,
        amr: row.amr ? row.amr.split(' ') : [],
      };
    },

    /** The session was used now from `ip`: recorded when the last record is a minute old or more. */
    async sessionSeen(id: string, lastSeenAt: number, ip: string): Promise<void> {
      const t = now();
      if (t - lastSeenAt < LAST_SEEN_RESOLUTION_MS) return;
      await sessions.markSeen(sha256(id), t, ip.slice(0, 64), t - LAST_SEEN_RESOLUTION_MS + 1);
    },

    /**
     * The browser of this dashboard session holds the account's oidc-provider session with this
     * uid: remember it, so signing the session out ends that one too. `currentLink` is what the
     * session already has (nothing is written when it is the same).
     */
    async linkProviderSession(id: string, userId: string, providerUid: string, currentLink: string | null) {
      const uidHash = sha256(providerUid);
      if (uidHash !== currentLink) await sessions.linkProviderSession(sha256(id), userId, uidHash);
    },

    /** The account's dashboard sessions, the most recently used first; `currentId` marks this browser's. */
    async listSessions(userId: string, currentId: string): Promise<SessionListing[]> {
      const currentHash = sha256(currentId);
      return (await sessions.listOf(userId, now())).map((row) => ({
        id: row.public_id,
        device: describeDevice(row.user_agent),
        userAgent: row.user_agent,
        ip: row.ip,
        createdAt: row.created_at,
        lastSeenAt: row.last_seen_at ?? row.created_at,
        current: row.id_hash === currentHash,
      }));
    },

    /**
     * Signs out one other session of the account, and the provider session linked to it. A handle
     * that names no other session of this account (another account's, this browser's, an unknown
     * one) is NotFound and ends nothing.
     */
    async endOtherSession(userId: string, currentId: string, publicId: string): Promise<void> {
      const ended = await sessions.deleteOneOf(userId, publicId, sha256(currentId));
      if (!ended) throw new NotFound('Session');
      if (ended.provider_session_uid_hash) {
        await deps.providerSessions.deleteOne(userId, ended.provider_session_uid_hash);
      }
    },

    /**
     * Signs out every other session of the account, and every provider session of the account but
     * this browser's (`keepProviderLink`, the one linked to the current session): an application's
     * sign-in in another browser ends even when its dashboard session had already expired.
     */
    async endOtherSessions(userId: string, currentId: string, keepProviderLink: string | null): Promise<number> {
      const ended = await sessions.deleteOthers(userId, sha256(currentId));
      await deps.providerSessions.deleteAllBut(userId, keepProviderLink);
      return ended.length;
    },

    /** The person re-entered a password or a code in this session (sudo mode starts now). */
    async reconfirmSession(id: string): Promise<void> {
      await sessions.markAuthenticated(sha256(id), now());
    },

    /**
     * Sets a new password (the caller checked the current one) and ends every other browser
     * session of the account: the other dashboard sessions and every OAuth (provider) session,
     * which could otherwise still obtain authorization codes and consent to applications.
     */
    async setPassword(userId: string, currentSessionId: string, next: string, by: Provenance): Promise<void> {
      const owner = await accounts.findById(userId);
      if (!owner) throw new NotFound('Account');
      const password = await passwordPolicy.check(next, owner, 'new_password');
      await accounts.update(userId, { password_hash: await passwords.hash(password), updated_at: now() }, [
        audit.event('password.changed', { account: userId, target: accountTarget(userId) }, by),
      ]);
      await sessions.deleteOthers(userId, sha256(currentSessionId));
      await deps.providerSessions.deleteByAccount(userId);
      await deps.notify?.(userId, { kind: 'password_changed' });
    },

    async endSession(id: string): Promise<void> {
      await sessions.delete(sha256(id));
    },
  };
}
export type AccountsService = ReturnType<typeof createAccountsService>;
