import { z } from 'zod';

/** An account as the operators' console and /v2/admin/users list it. */
export const adminUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  is_admin: z.boolean(),
  is_auditor: z.boolean(),
  /** Disabled by an admin: no sign-in, and every credential of it is refused. */
  disabled: z.boolean(),
  disabled_at: z.iso.datetime().nullable(),
  email_verified: z.boolean(),
  two_factor: z.boolean(),
  created_at: z.iso.datetime(),
});
export type AdminUser = z.infer<typeof adminUserSchema>;

/** One account in full: what it holds and where it is signed in. */
export const adminUserDetailSchema = adminUserSchema.extend({
  passkeys: z.number().int(),
  sessions: z.object({ browser: z.number().int(), oauth: z.number().int() }),
  api_keys: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      scopes: z.array(z.string()),
      expires_at: z.iso.datetime().nullable(),
      last_used_at: z.iso.datetime().nullable(),
    }),
  ),
  applications: z.array(z.object({ client_id: z.string(), name: z.string(), type: z.string() })),
  authorized_apps: z.array(
    z.object({
      client_id: z.string(),
      name: z.string().nullable(),
      scopes: z.array(z.string()),
      granted_at: z.iso.datetime(),
    }),
  ),
});
export type AdminUserDetail = z.infer<typeof adminUserDetailSchema>;

export const adminUserSearchSchema = z.object({
  /** Part of an email address, any case; empty lists everyone. */
  q: z.string().max(254).default(''),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  /** The `next_after` of the previous page. */
  after: z.string().max(320).optional(),
});
export type AdminUserSearch = z.infer<typeof adminUserSearchSchema>;

export const adminUserListSchema = z.object({ data: z.array(adminUserSchema), next_after: z.string().nullable() });

/** Both roles, as they are to be: `admin` changes everything, `auditor` sees the console and changes nothing. */
export const adminUserRolesSchema = z.strictObject({ admin: z.boolean(), auditor: z.boolean() });
export type AdminUserRoles = z.infer<typeof adminUserRolesSchema>;
