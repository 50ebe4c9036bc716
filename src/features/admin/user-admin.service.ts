import { Conflict, Forbidden, NotFound } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { UserRow } from '../../db/schema.ts';
import type { AdminUser, AdminUserDetail, AdminUserRoles, AdminUserSearch } from '../../wire/admin-users.ts';
import { emailSchema } from '../../wire/accounts.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';
import type { EmailLinks } from '../accounts/email-links.ts';
import type { MailService } from '../email/mail.service.ts';
import type { Notify } from '../accounts/security-notices.ts';
import type { UsersService } from '../users/users.service.ts';
import type { LastAdmin, UserAdminRepo } from './user-admin.repo.ts';

/** Who asks: an admin's credential or session (checked here too), or the operator at the CLI. */
export type AdminCaller = Principal | 'cli';
/** Who may look: an admin, or an auditor signed in to the console (who sees everything, changes nothing). */
export type AdminReader = AdminCaller | 'auditor';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const scopesOf = (json: string) => JSON.parse(json) as string[];

const toAdminUser = (row: UserRow): AdminUser => ({
  id: row.id,
  email: row.email,
  name: row.name,
  is_admin: row.is_admin === 1,
  is_auditor: row.is_auditor === 1,
  disabled: row.disabled_at !== null,
  disabled_at: iso(row.disabled_at),
  email_verified: row.email_verified_at !== null,
  two_factor: row.totp_secret_enc !== null,
  created_at: new Date(row.created_at).toISOString(),
});

const LAST_ADMIN = 'This is the last admin who can sign in: make another account an admin first';

/**
 * What admins do to other people's accounts: find and view them, disable and enable them, reset
 * their second factor, mail them a password-reset link, change their roles and delete them. Each
 * change writes its audit record in its own transaction. An admin cannot disable, demote or delete
 * themselves, and the last admin who can sign in cannot be disabled, demoted or deleted.
 */
export function createUserAdminService(deps: {
  repo: UserAdminRepo;
  audit: Audit;
  users: Pick<UsersService, 'remove'>;
  links: Pick<EmailLinks, 'issue'>;
  mail: Pick<MailService, 'enqueue'>;
  notify?: Notify;
  /**
   * After an account was disabled: its sign-ins to applications end (and are told, back-channel
   * logout) and its grants are revoked with their tokens.
   */
  endAccess(accountId: string, by: Provenance): Promise<void>;
  /** After an account's standing changed: every cache, on every instance, forgets what it knew. */
  onAccountChanged(accountId: string): void;
  /** After is_admin changed (`demoted`: it was cleared): admin:all credentials go, caches forget. */
  onRightsChanged(accountId: string, change: { demoted: boolean }, by: Provenance): Promise<void>;
  now(): number;
}) {
  const { repo, audit, now } = deps;

  function requireAdmin(caller: AdminReader): void {
    if (caller !== 'cli' && caller !== 'auditor' && !caller.isAdmin) throw new Forbidden('Only admins manage accounts');
  }

  async function load(caller: AdminReader, id: string): Promise<UserRow> {
    requireAdmin(caller);
    const row = await repo.find(id);
    if (!row) throw new NotFound('User');
    return row;
  }

  function refuseSelf(caller: AdminReader, row: UserRow, what: string): void {
    if (typeof caller === 'object' && caller.accountId === row.id) {
      throw new Conflict(`You cannot ${what} your own account: ask another admin`);
    }
  }

  const refuseLastAdmin = (outcome: boolean | LastAdmin) => {
    if (outcome === 'last_admin') throw new Conflict(LAST_ADMIN);
    return outcome;
  };

  const accountTarget = (row: UserRow) => ({ type: 'account', id: row.id });

  async function reread(id: string): Promise<AdminUser> {
    const row = await repo.find(id);
    if (!row) throw new NotFound('User');
    return toAdminUser(row);
  }

  return {
    async search(
      caller: AdminReader,
      query: AdminUserSearch,
    ): Promise<{ data: AdminUser[]; next_after: string | null }> {
      requireAdmin(caller);
      const rows = await repo.search(query.q, { after: query.after, limit: query.limit });
      return { data: rows.map(toAdminUser), next_after: rows.length === query.limit ? rows.at(-1)!.email : null };
    },

    async get(caller: AdminReader, id: string): Promise<AdminUserDetail> {
      const row = await load(caller, id);
      const held = await repo.holdings(row.id, now());
      return {
        ...toAdminUser(row),
        passkeys: held.passkeys,
        sessions: { browser: held.browserSessions, oauth: held.providerSessions },
        api_keys: held.apiKeys.map((k) => ({
          id: k.id,
          name: k.name,
          scopes: scopesOf(k.scopes),
          expires_at: iso(k.expires_at),
          last_used_at: iso(k.last_used_at),
        })),
        applications: held.applications,
        authorized_apps: held.authorizedApps.map((a) => ({
          client_id: a.client_id,
          name: a.name,
          scopes: scopesOf(a.scopes),
          granted_at: new Date(a.created_at).toISOString(),
        })),
      };
    },

    /** The account an email names (the CLI's way in); NotFound otherwise. */
    async idOfEmail(email: string): Promise<string> {
      const parsed = emailSchema.safeParse(email);
      const row = parsed.success ? await repo.findByEmail(parsed.data) : undefined;
      if (!row) throw new NotFound('User');
      return row.id;
    },

    /**
     * Disables the account: every credential of it is refused from the next request on, on every
     * instance (its rights are forgotten everywhere), its dashboard sessions end with the change,
     * then its sign-ins to applications end and its grants are revoked. Its API keys and
     * applications stay, unusable, until it is enabled again. Disabling a disabled account changes nothing.
     */
    async disable(caller: AdminCaller, id: string, by: Provenance): Promise<AdminUser> {
      const row = await load(caller, id);
      refuseSelf(caller, row, 'disable');
      const event = audit.event('account.disabled', { account: row.id, target: accountTarget(row) }, by);
      const changed = refuseLastAdmin(await repo.disable(row.id, now(), [event]));
      // Even when it was disabled already: whatever is left of its access ends now.
      deps.onAccountChanged(row.id);
      if (changed) await deps.endAccess(row.id, by);
      return reread(row.id);
    },

    /** Enables the account again: its API keys work again; its sessions and grants do not come back. */
    async enable(caller: AdminCaller, id: string, by: Provenance): Promise<AdminUser> {
      const row = await load(caller, id);
      const event = audit.event('account.enabled', { account: row.id, target: accountTarget(row) }, by);
      if (await repo.enable(row.id, now(), [event])) deps.onAccountChanged(row.id);
      return reread(row.id);
    },

    /**
     * Turns the account's TOTP off and deletes its recovery codes (the person lost the device);
     * passkeys stay, they are a sign-in of their own. The owner is told by email.
     */
    async resetTwoFactor(caller: AdminCaller, id: string, by: Provenance): Promise<AdminUser> {
      const row = await load(caller, id);
      const event = audit.event('two_factor.reset', { account: row.id, target: accountTarget(row) }, by);
      if (!(await repo.resetTwoFactor(row.id, now(), [event]))) {
        throw new Conflict('Two-factor authentication is not on for this account');
      }
      await deps.notify?.(row.id, { kind: 'two_factor_disabled' });
      return reread(row.id);
    },

    /** Mails the account a password-reset link (the "Forgot password?" mail), recorded with it. */
    async sendPasswordReset(caller: AdminCaller, id: string, by: Provenance): Promise<void> {
      const row = await load(caller, id);
      const event = audit.event('password_reset.sent', { account: row.id, target: accountTarget(row) }, by);
      await repo.withEvents([event], async (trx) => {
        const token = await deps.links.issue(row.id, 'reset_password', row.email, trx);
        await deps.mail.enqueue(row.email, 'password-reset', { name: row.name, token, returnTo: null }, trx);
      });
    },

    /** Sets both roles; each one that changes is one `account.role_changed` record. */
    async setRoles(caller: AdminCaller, id: string, roles: AdminUserRoles, by: Provenance): Promise<AdminUser> {
      const row = await load(caller, id);
      const wasAdmin = row.is_admin === 1;
      const wasAuditor = row.is_auditor === 1;
      if (wasAdmin && !roles.admin) refuseSelf(caller, row, 'remove admin from');
      const changes = [
        ...(roles.admin !== wasAdmin ? [{ role: 'admin', granted: roles.admin }] : []),
        ...(roles.auditor !== wasAuditor ? [{ role: 'auditor', granted: roles.auditor }] : []),
      ];
      if (changes.length === 0) return toAdminUser(row);
      const events = changes.map((data) =>
        audit.event('account.role_changed', { account: row.id, target: accountTarget(row), data }, by),
      );
      refuseLastAdmin(await repo.setRoles(row.id, roles, now(), events));
      if (roles.admin !== wasAdmin) await deps.onRightsChanged(row.id, { demoted: wasAdmin }, by);
      else deps.onAccountChanged(row.id);
      return reread(row.id);
    },

    /** Deletes the account and everything it owns (the one deletion, `account.deleted` recorded with it). */
    async remove(caller: Principal, id: string, by: Provenance): Promise<void> {
      const row = await load(caller, id);
      refuseSelf(caller, row, 'delete');
      if (row.is_admin === 1 && !(await repo.hasOtherActiveAdmin(row.id))) throw new Conflict(LAST_ADMIN);
      await deps.users.remove(caller, row.id, by);
    },
  };
}
export type UserAdminService = ReturnType<typeof createUserAdminService>;
