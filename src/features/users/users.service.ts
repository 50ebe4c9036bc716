import { Conflict, Forbidden, NotFound } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { CreateUserInput, ListUsersQuery, UpdateUserInput, UserView } from '../../wire/users.ts';
import type { UserRow } from '../../db/schema.ts';
import type { AccountsRepo } from '../accounts/accounts.repo.ts';
import type { AccountsService } from '../accounts/accounts.service.ts';
import { buildEvent } from '../webhooks/events.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';

const toView = (row: UserRow): UserView => ({
  id: row.id,
  email: row.email,
  name: row.name,
  is_admin: row.is_admin === 1,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

/** /v2/users: a user reads and changes themselves; admin:all reaches everyone. */
export function createUsersService(deps: {
  repo: AccountsRepo;
  accounts: AccountsService;
  now(): number;
  /** Called after an account is deleted, so caches drop its credentials at once. */
  onDeleted(userId: string): void;
  /**
   * Called before an account is deleted: reads what must be told once it is gone (its sign-ins'
   * applications, back-channel logout) and returns the telling.
   */
  signInsEnding?(userId: string): Promise<() => Promise<void>>;
  /**
   * Called after an account's is_admin changed (`demoted`: it was cleared), so credentials carrying
   * admin:all are revoked and every cache forgets the account's rights.
   */
  onRightsChanged(userId: string, change: { demoted: boolean }, by: Provenance): Promise<void>;
  /** Records `account.deleted` with the deletion (the actor is whoever asked: the owner or an admin). */
  audit: Audit;
  /** Whether an admin who can sign in exists besides this account (the last one is never demoted or deleted). */
  hasOtherActiveAdmin?(userId: string): Promise<boolean>;
}) {
  const { repo, now } = deps;

  /** The server keeps an admin who can sign in: the last one is not demoted or deleted here. */
  async function keepAnAdmin(row: UserRow): Promise<void> {
    if (row.is_admin === 1 && deps.hasOtherActiveAdmin && !(await deps.hasOtherActiveAdmin(row.id))) {
      throw new Conflict('This is the last admin who can sign in: make another account an admin first');
    }
  }

  async function load(caller: Principal, id: string): Promise<UserRow> {
    const targetId = id === 'me' ? caller.accountId : id;
    if (!targetId) throw new NotFound('User');
    return caller.ownedOrAdmin(await repo.findById(targetId), (row) => row.id, 'User');
  }

  /**
   * The one way an account is deleted, whoever asks: everything it owns goes in one transaction
   * with the `user.deleted` event, then every cache forgets its credentials.
   */
  async function deleteAccount(row: UserRow, by: Provenance): Promise<void> {
    const tellApplications = await deps.signInsEnding?.(row.id);
    const recorded = deps.audit.event(
      'account.deleted',
      {
        account: row.id,
        target: { type: 'account', id: row.id },
        data: { email: row.email },
      },
      by,
    );
    await repo.delete(row.id, [buildEvent('user.deleted', row.id, { id: row.id, email: row.email }, now()), recorded]);
    deps.onDeleted(row.id);
    await tellApplications?.();
  }

  return {
    async list(
      caller: Principal,
      { limit, after }: ListUsersQuery,
    ): Promise<{ data: UserView[]; next_after: string | null }> {
      if (!caller.isAdmin) {
        const self = caller.accountId ? await repo.findById(caller.accountId) : undefined;
        return { data: self ? [toView(self)] : [], next_after: null };
      }
      const rows = await repo.list(limit, after);
      return { data: rows.map(toView), next_after: rows.length === limit ? rows.at(-1)!.id : null };
    },

    async get(caller: Principal, id: string): Promise<UserView> {
      return toView(await load(caller, id));
    },

    async create(data: CreateUserInput, by: Provenance): Promise<UserView> {
      const account = await deps.accounts.signUp(
        {
          email: data.email,
          password: data.password,
          name: data.name,
          isAdmin: data.is_admin,
        },
        by,
      );
      return toView((await repo.findById(account.id))!);
    },

    async update(caller: Principal, id: string, data: UpdateUserInput, by: Provenance): Promise<UserView> {
      const row = await load(caller, id);
      if (data.is_admin !== undefined && !caller.isAdmin) throw new Forbidden('Only admin:all may change is_admin');
      if (data.is_admin === false) await keepAnAdmin(row);
      await repo.update(row.id, {
        ...(data.name !== undefined && { name: data.name ?? null }),
        ...(data.is_admin !== undefined && { is_admin: data.is_admin ? 1 : 0 }),
        updated_at: now(),
      });
      const wasAdmin = row.is_admin === 1;
      if (data.is_admin !== undefined && data.is_admin !== wasAdmin) {
        await deps.onRightsChanged(row.id, { demoted: wasAdmin }, by);
      }
      return toView((await repo.findById(row.id))!);
    },

    async remove(caller: Principal, id: string, by: Provenance): Promise<void> {
      const row = await load(caller, id);
      await keepAnAdmin(row);
      await deleteAccount(row, by);
    },

    /**
     * The account deletes itself (Settings → Account, after the caller checked sudo mode and the
     * typed email): the same path as an administrator's deletion.
     */
    async deleteOwn(userId: string, by: Provenance): Promise<void> {
      const row = await repo.findById(userId);
      if (!row) throw new NotFound('User');
      await deleteAccount(row, by);
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
