import { z } from 'zod';
import { AUDIT_ACTOR_TYPES, AUDIT_TYPES, type AuditEntry } from '../domain/audit.ts';

/**
 * An audit event as JSON: the export (one object per line), the API and the `audit.*` webhook body
 * all carry this shape, snake_case like the rest of the API.
 */
export function auditEntryJson(entry: Omit<AuditEntry, 'seq'>) {
  return {
    id: entry.id,
    type: entry.type,
    created_at: new Date(entry.createdAt).toISOString(),
    actor: {
      type: entry.actor.type,
      id: entry.actor.id,
      account_id: entry.actor.accountId,
      label: entry.actor.label,
    },
    account_id: entry.accountId,
    target: entry.target,
    ip: entry.ip,
    user_agent: entry.userAgent,
    request_id: entry.requestId,
    data: entry.data,
  };
}
export type AuditEntryJson = ReturnType<typeof auditEntryJson>;

/** The JSON shape of one event, for the OpenAPI document (what `auditEntryJson` returns). */
export const auditEntrySchema = z.object({
  id: z.string(),
  type: z.enum(AUDIT_TYPES),
  created_at: z.iso.datetime(),
  actor: z.object({
    type: z.enum(AUDIT_ACTOR_TYPES),
    id: z.string().nullable(),
    account_id: z.string().nullable(),
    label: z.string().nullable(),
  }),
  account_id: z.string().nullable(),
  target: z.object({ type: z.string(), id: z.string() }).nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

/** A page of the trail, newest first; `next_before` is the cursor of the next (older) page, null at the end. */
export const auditPageSchema = z.object({ data: z.array(auditEntrySchema), next_before: z.number().int().nullable() });

/** A date (`2026-12-01`, the whole day in UTC) or an instant (`2026-12-01T10:00:00Z`). */
const dateOrInstant = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/**
 * The filters of the trail, as the API, the console and the export take them. `actor`: an actor
 * type, or an account (email or id) whose doings are wanted; `account`: whose trail (email or id);
 * `from` / `to`: a time range, both ends included (a date means that whole day, UTC).
 */
export const auditFilterQuerySchema = z.object({
  actor: z.string().trim().max(320).optional(),
  account: z.string().trim().max(320).optional(),
  type: z.enum(AUDIT_TYPES).optional(),
  from: dateOrInstant.optional(),
  to: dateOrInstant.optional(),
});
export type AuditFilterQuery = z.infer<typeof auditFilterQuerySchema>;

/** The API's page: the filters, a page size (at most 200) and the cursor from the previous page. */
export const auditListQuerySchema = auditFilterQuerySchema.extend({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().min(1).optional(),
});
