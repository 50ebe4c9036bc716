import type { AuditEntry } from '../../domain/audit.ts';
import { auditEntryJson } from '../../wire/audit.ts';

export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The CSV columns, in order: the JSON shape flattened (`data` stays JSON in its cell). */
const CSV_COLUMNS = [
  'id',
  'created_at',
  'type',
  'actor_type',
  'actor_id',
  'actor_account_id',
  'actor_label',
  'account_id',
  'target_type',
  'target_id',
  'ip',
  'user_agent',
  'request_id',
  'data',
] as const;

/**
 * One CSV cell. A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return,
 * which some treat the same way) as a formula, and the trail holds text others chose (a key's name,
 * a User-Agent): such a cell is prefixed with an apostrophe, so it is shown, never run. Then the
 * usual RFC 4180 quoting.
 */
export function csvCell(value: string | null): string {
  if (value === null) return '';
  const inert = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(inert) ? `"${inert.replaceAll('"', '""')}"` : inert;
}

export function exportHeader(format: ExportFormat): string | null {
  return format === 'csv' ? `${CSV_COLUMNS.join(',')}\r\n` : null;
}

/** One event as a line of the export (JSON lines: the API's JSON shape; CSV: CSV_COLUMNS). */
export function exportLine(format: ExportFormat, entry: AuditEntry): string {
  const json = auditEntryJson(entry);
  if (format === 'jsonl') return `${JSON.stringify(json)}\n`;
  const cells: Record<(typeof CSV_COLUMNS)[number], string | null> = {
    id: json.id,
    created_at: json.created_at,
    type: json.type,
    actor_type: json.actor.type,
    actor_id: json.actor.id,
    actor_account_id: json.actor.account_id,
    actor_label: json.actor.label,
    account_id: json.account_id,
    target_type: json.target?.type ?? null,
    target_id: json.target?.id ?? null,
    ip: json.ip,
    user_agent: json.user_agent,
    request_id: json.request_id,
    data: JSON.stringify(json.data),
  };
  return `${CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',')}\r\n`;
}
