import type { ApiKeyActivityRow } from '../../db/schema.ts';

/* What both backends' activity batches share: the row's columns and each key's latest use. */

/** The activity table's columns, in the order the insert names them. */
export const ACTIVITY_COLUMNS = [
  'id',
  'key_id',
  'at',
  'ip',
  'method',
  'path',
  'status',
  'request_id',
  'client_version',
] as const satisfies readonly (keyof ApiKeyActivityRow)[];

/** Each key's latest entry in the batch (of two at the same time, the later one in the batch). */
export function latestByKey(entries: readonly ApiKeyActivityRow[]): Map<string, ApiKeyActivityRow> {
  const latest = new Map<string, ApiKeyActivityRow>();
  for (const e of entries) if ((latest.get(e.key_id)?.at ?? -1) <= e.at) latest.set(e.key_id, e);
  return latest;
}
