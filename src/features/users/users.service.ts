import { z } from 'zod';
import type { Principal } from '../../auth/principal.ts';
import { forbidden, notFound, validationFailed } from '../../http/errors.ts';
import { parseInput } from '../../http/validation.ts';
import type { UserRow } from '../../db/schema.ts';
import type { AccountsRepo } from '../accounts/accounts.repo.ts';
import { emailSchema, passwordSchema, type AccountsService } from '../accounts/accounts.service.ts';

export const userViewSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  is_admin: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type UserView = z.infer<typeof userViewSchema>;
export const userListSchema = z.object({ data: z.array(userViewSchema), next_after: z.string().nullable() });

const toView = (row: UserRow): UserView => ({
  id: row.id,
  email: row.email,
  name: row.name,
  is_admin: row.is_admin === 1,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

export const createUserSchema = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
  name: z.string().trim().max(100).nullish(),
  is_admin: z.boolean().default(false),
});

/**
 * Profile fields only. A password or an email is what signs in to the account: whoever holds a
 * bearer credential (a third-party app's token, a leaked key) or a cookie alone must not be able
 * to change them, so they are changed only by the person, in the browser (see BROWSER_ONLY).
 */
export const updateUserSchema = z.strictObject({
  name: z.string().trim().max(100).nullish(),
  is_admin: z.boolean().optional(),
});

/** Fields PATCH refuses by name, and where they are changed instead. */
const BROWSER_ONLY: Record<string, string> = {
  password:
    'password: cannot be changed through the API; the account holder changes it in Settings → Security, in the browser, after signing in again',
  email:
    'email: cannot be changed through the API; the account holder changes it in Settings, in the browser, after signing in again',
};

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: z.string().max(64).optional(),
});

/** /v2/users: a user reads and changes themselves; admin:all reaches everyone. */
export function createUsersService(deps: {
  repo: AccountsRepo;
  accounts: AccountsService;
  now(): number;
  /** Called after an account is deleted, so caches drop its credentials at once. */
  onDeleted(userId: string): void;
  /**
   * Called after an account's is_admin changed (`demoted`: it was cleared), so credentials carrying
   * admin:all are revoked and every cache forgets the account's rights.
   */
  onRightsChanged(userId: string, change: { demoted: boolean }): Promise<void>;
}) {
  const { repo, now } = deps;

  async function load(caller: Principal, id: string): Promise<UserRow> {
    const targetId = id === 'me' ? caller.accountId : id;
    if (!targetId) throw notFound('User');
    return caller.ownedOrAdmin(await repo.findById(targetId), (row) => row.id, 'User');
  }

  function refuseBrowserOnlyFields(input: unknown): void {
    if (!input || typeof input !== 'object') return;
    const field = Object.keys(BROWSER_ONLY).find((f) => Object.hasOwn(input, f));
    if (field) throw validationFailed(BROWSER_ONLY[field]!, field);
  }

  return {
    async list(caller: Principal, query: unknown): Promise<{ data: UserView[]; next_after: string | null }> {
      const { limit, after } = parseInput(listQuerySchema, query);
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

    async create(input: unknown): Promise<UserView> {
      const data = parseInput(createUserSchema, input);
      const account = await deps.accounts.signUp({
        email: data.email,
        password: data.password,
        name: data.name,
        isAdmin: data.is_admin,
      });
      return toView((await repo.findById(account.id))!);
    },

    async update(caller: Principal, id: string, input: unknown): Promise<UserView> {
      const row = await load(caller, id);
      refuseBrowserOnlyFields(input);
      const data = parseInput(updateUserSchema, input);
      if (data.is_admin !== undefined && !caller.isAdmin) throw forbidden('Only admin:all may change is_admin');
      await repo.update(row.id, {
        ...(data.name !== undefined && { name: data.name ?? null }),
        ...(data.is_admin !== undefined && { is_admin: data.is_admin ? 1 : 0 }),
        updated_at: now(),
      });
      const wasAdmin = row.is_admin === 1;
      if (data.is_admin !== undefined && data.is_admin !== wasAdmin) {
        await deps.onRightsChanged(row.id, { demoted: wasAdmin });
      }
      return toView((await repo.findById(row.id))!);
    },

    async remove(caller: Principal, id: string): Promise<void> {
      const row = await load(caller, id);
      await repo.delete(row.id);
      deps.onDeleted(row.id);
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
