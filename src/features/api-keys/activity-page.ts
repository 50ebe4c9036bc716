import { ValidationError } from '../../domain/errors.ts';
import type { ApiKeyActivityRow } from '../../db/schema.ts';
import type { ActivityQuery } from '../../wire/api-keys.ts';
import type { ActivityFilter, ActivityPosition, ApiKeysRepo } from './api-keys.repo.ts';

/** One page of a key's activity, newest first, with the cursors of the pages either side (null: none). */
export interface ActivityPage {
  rows: ApiKeyActivityRow[];
  olderCursor: string | null;
  newerCursor: string | null;
}

/** A cursor is the entry's time and id: opaque to callers, checked by the wire schema's shape. */
const cursorOf = (row: ApiKeyActivityRow) => `${row.at}.${row.id}`;
function positionOf(cursor: string): ActivityPosition {
  const dot = cursor.indexOf('.');
  return { at: Number(cursor.slice(0, dot)), id: cursor.slice(dot + 1) };
}

const timeOf = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

/** The query's filters as the repository takes them; `before` (the first version's) is an upper bound too. */
export function activityFilterOf(q: Omit<ActivityQuery, 'limit'>): ActivityFilter {
  const status = q.status?.endsWith('xx')
    ? { kind: 'class' as const, hundreds: Number(q.status[0]) * 100 }
    : q.status
      ? { kind: 'exact' as const, code: Number(q.status) }
      : undefined;
  const bounds = [timeOf(q.to), timeOf(q.before)].filter((t) => t !== undefined);
  return {
    ...(status && { status }),
    ...(q.path && { pathPrefix: q.path }),
    ...(q.from && { from: timeOf(q.from)! }),
    ...(bounds.length > 0 && { to: Math.min(...bounds) }),
  };
}

/**
 * Reads one page: the newest entries matching the filter, or those just older / newer than a
 * cursor. The repository answers one row more than asked when more lie in that direction.
 */
export async function readActivityPage(repo: ApiKeysRepo, keyId: string, q: ActivityQuery): Promise<ActivityPage> {
  if (q.older_than && q.newer_than) throw new ValidationError('give older_than or newer_than, not both', 'newer_than');
  const older = q.older_than ? positionOf(q.older_than) : undefined;
  const newer = q.newer_than ? positionOf(q.newer_than) : undefined;
  const fetched = await repo.activityPage(keyId, activityFilterOf(q), {
    limit: q.limit,
    ...(older && { older }),
    ...(newer && { newer }),
  });
  const more = fetched.length > q.limit;
  // Newer pages come back oldest-last already; the extra row is at the newest end for them.
  const rows = more ? (newer ? fetched.slice(1) : fetched.slice(0, q.limit)) : fetched;
  const first = rows[0];
  const last = rows[rows.length - 1];
  return {
    rows,
    // Older entries exist past this page if the repository found one more, or we came from older ones.
    olderCursor: last && (newer || more) ? cursorOf(last) : null,
    newerCursor: first && (older || (newer && more)) ? cursorOf(first) : null,
  };
}
