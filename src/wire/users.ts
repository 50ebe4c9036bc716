import { z } from 'zod';
import { emailSchema, passwordSchema } from './accounts.ts';

/** /v2/users on the wire. */
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

export const createUserSchema = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
  name: z.string().trim().max(100).nullish(),
  is_admin: z.boolean().default(false),
});

/** Fields PATCH refuses by name, and where they are changed instead. */
const BROWSER_ONLY: Record<string, string> = {
  password:
    'cannot be changed through the API; ' +
    'the account holder changes it in Settings → Security, in the browser, after signing in again',
  email:
    'cannot be changed through the API; ' +
    'the account holder changes it in Settings, in the browser, after signing in again',
};

/**
 * Profile fields only. A password or an email is what signs in to the account: whoever holds a
 * bearer credential (a third-party app's token, a leaked key) or a cookie alone must not be able
 * to change them, so they are changed only by the person, in the browser. They are refused by
 * name, before anything else about the body, rather than as merely unknown fields.
 */
export const updateUserSchema = z.preprocess(
  (input, ctx) => {
    if (!input || typeof input !== 'object') return input;
    const field = Object.keys(BROWSER_ONLY).find((f) => Object.hasOwn(input, f));
    if (field) ctx.addIssue({ code: 'custom', message: BROWSER_ONLY[field]!, path: [field], input });
    return input;
  },
  z.strictObject({
    name: z.string().trim().max(100).nullish(),
    is_admin: z.boolean().optional(),
  }),
);

/** A person's name as Settings → Account takes it: trimmed, at most 100 characters; empty clears it. */
export const profileNameSchema = z
  .string()
  .trim()
  .max(100, 'Name must be at most 100 characters')
  .transform((n) => n || null);

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  after: z.string().max(64).optional(),
});
export type CreateUserInput = z.infer<typeof createUserSchema>;
export type UpdateUserInput = z.infer<typeof updateUserSchema>;
export type ListUsersQuery = z.infer<typeof listQuerySchema>;
