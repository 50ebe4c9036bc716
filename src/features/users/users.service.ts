import { z } from 'zod';
import { assertOwnerOrAdmin, type Actor } from '../../auth/actor.ts';
import { AppError, forbidden, notFound } from '../../http/errors.ts';
import { parseInput } from '../../http/validation.ts';
import type { UserRow } from '../../db/schema.ts';
import type { AccountsRepo } from '../accounts/accounts.repo.ts';
import { emailSchema, passwordSchema, type AccountsService } from '../accounts/accounts.service.ts';
import type { PasswordHasher } from '../accounts/passwords.ts';

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

export const updateUserSchema = z.strictObject({
  email: emailSchema.optional(),
  password: passwordSchema.optional(),
  name: z.string().trim().max(100).nullish(),
  is_admin: z.boolean().optional(),
});

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: z.string().max(64).optional(),
});

/** /v2/users: a user reads and changes themselves; admin:all reaches everyone. */
export function createUsersService(deps: {
  repo: AccountsRepo;
  accounts: AccountsService;
  passwords: PasswordHasher;
  now(): number;
  /** Called after an account is deleted, so caches drop its credentials at once. */
  onDeleted(userId: string): void;
}) {
  const { repo, now } = deps;

  async function load(actor: Actor, id: string): Promise<UserRow> {
    const targetId = id === 'me' ? actor.userId : id;
    if (!targetId) throw notFound('User');
    const row = await repo.findById(targetId);
    if (!row) {
      // Do not reveal which ids exist to someone who could not see them anyway.
      if (!actor.admin) throw forbidden();
      throw notFound('User');
    }
    assertOwnerOrAdmin(actor, row.id);
    return row;
  }

  return {
    async list(actor: Actor, query: unknown): Promise<{ data: UserView[]; next_after: string | null }> {
      const { limit, after } = parseInput(listQuerySchema, query);
      if (!actor.admin) {
        const self = actor.userId ? await repo.findById(actor.userId) : undefined;
        return { data: self ? [toView(self)] : [], next_after: null };
      }
      const rows = await repo.list(limit, after);
      return { data: rows.map(toView), next_after: rows.length === limit ? rows.at(-1)!.id : null };
    },

    async get(actor: Actor, id: string): Promise<UserView> {
      return toView(await load(actor, id));
    },

    async create(input: unknown): Promise<UserView> {
      const data = parseInput(createUserSchema, input);
      const account = await deps.accounts.signUp({ email: data.email, password: data.password, name: data.name, isAdmin: data.is_admin });
      return toView((await repo.findById(account.id))!);
    },

    async update(actor: Actor, id: string, input: unknown): Promise<UserView> {
      const row = await load(actor, id);
      const data = parseInput(updateUserSchema, input);
      if (data.is_admin !== undefined && !actor.admin) throw forbidden('Only admin:all may change is_admin');
      if (data.email && data.email !== row.email && (await repo.findByEmail(data.email))) {
        throw new AppError('CONFLICT', 'An account with this email already exists', { field: 'email' });
      }
      await repo.update(row.id, {
        ...(data.email !== undefined && { email: data.email }),
        ...(data.name !== undefined && { name: data.name ?? null }),
        ...(data.is_admin !== undefined && { is_admin: data.is_admin ? 1 : 0 }),
        ...(data.password !== undefined && { password_hash: await deps.passwords.hash(data.password) }),
        updated_at: now(),
      });
      return toView((await repo.findById(row.id))!);
    },

    async remove(actor: Actor, id: string): Promise<void> {
      const row = await load(actor, id);
      await repo.delete(row.id);
      deps.onDeleted(row.id);
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
