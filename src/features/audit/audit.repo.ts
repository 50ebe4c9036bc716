import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { AuditActorType, AuditEntry, AuditRecord, AuditType } from '../../domain/audit.ts';
import { withEvents } from '../webhooks/outbox.repo.ts';

/** Which events a page or an export asks for; every field narrows, and all are optional. */
export interface AuditFilter {
  /** Events of this account's trail or done by it (Settings → Activity). */
  involving?: string;
  /** Events whose trail is this account's. */
  accountId?: string;
  /** Events this account did (through any of its credentials or sessions). */
  actorAccountId?: string;
  actorType?: AuditActorType;
  types?: AuditType[];
  /** created_at ≥ from (epoch ms). */
  from?: number;
  /** created_at < to (epoch ms). */
  to?: number;
}

type Row = Awaited<ReturnType<ReturnType<typeof selectRows>['executeTakeFirstOrThrow']>>;
const selectRows = (db: Kysely<Database>) => db.selectFrom('audit_events').selectAll();

const toEntry = (row: Row): AuditEntry => ({
  id: row.id,
  seq: Number(row.seq),
  type: row.type as AuditType,
  actor: {
    type: row.actor_type as AuditActorType,
    id: row.actor_id,
    accountId: row.actor_account_id,
    label: row.actor_label,
  },
  accountId: row.account_id,
  target: row.target_type && row.target_id ? { type: row.target_type, id: row.target_id } : null,
  ip: row.ip,
  userAgent: row.user_agent,
  requestId: row.request_id,
  data: JSON.parse(row.data) as Record<string, unknown>,
  createdAt: Number(row.created_at),
});

export function createAuditRepo(db: Kysely<Database>) {
  return {
    /** Writes events that record no other change (a failed sign-in), with their webhook events. */
    async append(records: AuditRecord[]): Promise<void> {
      await withEvents(db, records, async () => {});
    },

    /**
     * A page of the trail, newest first: `limit` entries older than the cursor `before` (a seq).
     * Keyset pagination over the indexes, so the thousandth page costs what the first does.
     */
    async list(filter: AuditFilter, page: { before?: number; limit: number }): Promise<AuditEntry[]> {
      let q = selectRows(db);
      if (filter.involving !== undefined) {
        const id = filter.involving;
        q = q.where((eb) => eb.or([eb('account_id', '=', id), eb('actor_account_id', '=', id)]));
      }
      if (filter.accountId !== undefined) q = q.where('account_id', '=', filter.accountId);
      if (filter.actorAccountId !== undefined) q = q.where('actor_account_id', '=', filter.actorAccountId);
      if (filter.actorType !== undefined) q = q.where('actor_type', '=', filter.actorType);
      if (filter.types?.length) q = q.where('type', 'in', filter.types);
      if (filter.from !== undefined) q = q.where('created_at', '>=', filter.from);
      if (filter.to !== undefined) q = q.where('created_at', '<', filter.to);
      if (page.before !== undefined) q = q.where('seq', '<', page.before);
      const rows = await q.orderBy('seq', 'desc').limit(page.limit).execute();
      return rows.map(toEntry);
    },

    /** Deletes events older than `before` (retention), a batch at a time; answers how many went. */
    async prune(before: number, batch = 5_000): Promise<number> {
      let total = 0;
      for (;;) {
        const oldest = db
          .selectFrom('audit_events')
          .select('seq')
          .where('created_at', '<', before)
          .orderBy('seq')
          .limit(batch);
        const res = await db.deleteFrom('audit_events').where('seq', 'in', oldest).executeTakeFirst();
        const n = Number(res.numDeletedRows);
        total += n;
        if (n < batch) return total;
      }
    },
  };
}
export type AuditRepo = ReturnType<typeof createAuditRepo>;
