import type { AuditEntry } from '../domain/audit.ts';

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
