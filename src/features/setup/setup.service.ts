import type { Logger } from 'pino';
import { Conflict, Forbidden, ValidationError } from '../../domain/errors.ts';
import { emailSchema } from '../../wire/accounts.ts';
import { newId, randomBase62, sha256 } from '../../shared/secrets.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import { newUserRow } from '../../db/new-user-row.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { PasswordHasher } from '../accounts/passwords.ts';
import type { PasswordPolicy } from '../accounts/password-policy.ts';
import { SetupRefused, type SetupRepo } from './setup.repo.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';
import { accountActor } from '../audit/actors.ts';

/** A setup link works for a day; a later start (while no admin exists) prints a new one. */
export const SETUP_LINK_TTL_MS = 24 * 3600 * 1000;
/** 43 base62 characters: about 256 bits, beyond guessing, so the link alone is the proof. */
const TOKEN_LENGTH = 43;

export const SETUP_LINK_REFUSED =
  'This setup link is not valid: it is mistyped, expired or already used. Restart Latchkey to print a new one.';
export const SETUP_DONE = 'Latchkey is already set up. Sign in with an admin account.';

/**
 * A new setup link, or null once an admin exists (then any links left are deleted). Old links stay
 * valid until they expire: another instance starting beside this one may have printed one.
 */
export async function issueSetupLink(
  repo: Pick<SetupRepo, 'adminExists' | 'deleteAll' | 'deleteExpired' | 'insertToken'>,
  issuer: string,
  now: () => number,
): Promise<string | null> {
  if (await repo.adminExists()) {
    await repo.deleteAll();
    return null;
  }
  await repo.deleteExpired(now());
  const token = randomBase62(TOKEN_LENGTH);
  const t = now();
  await repo.insertToken({ token_hash: sha256(token), created_at: t, expires_at: t + SETUP_LINK_TTL_MS });
  return `${issuer}/setup?token=${token}`;
}

/** The owner account as the setup form sends it. */
export interface OwnerInput {
  email: string;
  password: string;
  name?: string | null;
}

/**
 * First-run setup: while no admin account exists, a start issues a single-use link
 * (`ISSUER/setup?token=...`) whose page creates the owner account, an admin with a proven address.
 * Tokens are kept as SHA-256 in the database with an expiry, so with several instances or workers
 * the link works whichever one serves it; creating the owner retires every link at once.
 */
export function createSetupService(deps: {
  repo: SetupRepo;
  passwords: PasswordHasher;
  passwordPolicy: PasswordPolicy;
  issuer: string;
  /** Records the owner account created (by its own first person: nobody is signed in), with it. */
  audit: Audit;
  now(): number;
}) {
  const { repo, now } = deps;

  /** Refuses unless setup is still open and `token` is one of its live links. */
  async function requireLiveLink(token: unknown): Promise<string> {
    if (await repo.adminExists()) throw new Conflict(SETUP_DONE);
    const hash = typeof token === 'string' && token.length === TOKEN_LENGTH ? sha256(token) : null;
    if (!hash || !(await repo.tokenIsLive(hash, now()))) throw new Forbidden(SETUP_LINK_REFUSED);
    return hash;
  }

  return {
    issueLink: () => issueSetupLink(repo, deps.issuer, now),

    /** Throws Conflict (an admin exists, no field) or Forbidden (not a live link) unless the page may be shown. */
    async checkLink(token: unknown): Promise<void> {
      await requireLiveLink(token);
    },

    /**
     * Creates the owner: an admin whose email counts as verified. The link is checked first (no
     * form work for a refused one), then the account rules, then the link is consumed in the same
     * transaction that creates the account: of two posts at once, one creates it.
     */
    async createOwner(token: unknown, input: OwnerInput, by: Provenance): Promise<{ id: string; email: string }> {
      const tokenHash = await requireLiveLink(token);
      const email = emailSchema.safeParse(input.email);
      if (!email.success) throw new ValidationError(email.error.issues[0]!.message, 'email');
      const name = typeof input.name === 'string' && input.name.trim() ? input.name.trim().slice(0, 100) : null;
      const password = await deps.passwordPolicy.check(input.password, { email: email.data, name });
      const t = now();
      const user = newUserRow({
        id: newId('usr'),
        email: email.data,
        passwordHash: await deps.passwords.hash(password),
        name,
        isAdmin: true,
        t,
        // The operator holding the printed link is the one who installed the server.
        emailVerifiedAt: t,
      });
      const signedUp = buildEvent('user.signed_up', user.id, { id: user.id, email: user.email, name }, t);
      try {
        const created = deps.audit.event(
          'account.created',
          {
            account: user.id,
            target: { type: 'account', id: user.id },
            actor: accountActor(user),
            data: { email: user.email, is_admin: true, via: 'setup' },
          },
          by,
        );
        await repo.createOwner(tokenHash, t, user, [signedUp, created]);
      } catch (err) {
        if (err instanceof SetupRefused)
          throw err.reason === 'done' ? new Conflict(SETUP_DONE) : new Forbidden(SETUP_LINK_REFUSED);
        if (isUniqueViolation(err)) throw new Conflict('An account with this email already exists', 'email');
        throw err;
      }
      return { id: user.id, email: user.email };
    },
  };
}
export type SetupService = ReturnType<typeof createSetupService>;

/**
 * At start: while no admin exists, one log line on stdout with the setup link. It is logged at
 * `warn` (an unclaimed server wants its operator's attention) and with the link in the message, so
 * a person reading `npm start` sees it; the token itself is stored only as its hash.
 */
export async function announceSetupLink(setup: Pick<SetupService, 'issueLink'>, logger: Logger): Promise<void> {
  const link = await setup.issueLink();
  if (!link) return;
  const hours = SETUP_LINK_TTL_MS / 3_600_000;
  logger.warn(`No admin account yet: open ${link} to create the owner account (single use, valid ${hours} hours)`);
}
