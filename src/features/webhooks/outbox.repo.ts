import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { newId } from '../../shared/secrets.ts';
import { DISABLED_BY_OWNER, subscribed, type OutboxEvent } from '../../domain/webhook-events.ts';
import { auditWebhookType, type AuditRecord } from '../../domain/audit.ts';
import { auditEntryJson } from '../../wire/audit.ts';

/** What a change writes beside itself: webhook events and audit records, in its transaction. */
export type TransactionalEvent = OutboxEvent | AuditRecord;
const isAudit = (e: TransactionalEvent): e is AuditRecord => 'kind' in e && e.kind === 'audit';

/**
 * Writes events into the outbox inside the caller's transaction, with one pending delivery per
 * subscribed active endpoint, so an event exists exactly when the change that caused it does.
 */
export async function writeOutbox(trx: Kysely<Database>, written: TransactionalEvent[]): Promise<void> {
  const audit = written.filter(isAudit);
  const events = [...written.filter((e): e is OutboxEvent => !isAudit(e)), ...(await writeAudit(trx, audit))];
  for (const event of events) {
    await trx
      .insertInto('webhook_events')
      .values({ id: event.id, user_id: event.userId, type: event.type, body: event.body, created_at: event.createdAt })
      .execute();
    let endpoints = trx
      .selectFrom('webhook_endpoints')
      .innerJoin('users', 'users.id', 'webhook_endpoints.user_id')
      .select(['webhook_endpoints.id', 'webhook_endpoints.events'])
      // An endpoint disabled for failing keeps collecting (delivered once it is re-enabled);
      // one its owner turned off does not.
      .where((eb) =>
        eb.or([
          eb('webhook_endpoints.status', '=', 'active'),
          eb('webhook_endpoints.disabled_reason', '!=', DISABLED_BY_OWNER),
        ]),
      );
    const owner = event.userId;
    endpoints =
      owner === null
        ? endpoints.where('users.is_admin', '=', 1)
        : event.alsoAdmins
          ? endpoints.where((eb) => eb.or([eb('webhook_endpoints.user_id', '=', owner), eb('users.is_admin', '=', 1)]))
          : endpoints.where('webhook_endpoints.user_id', '=', owner);
    const targets = (await endpoints.execute()).filter((e) => subscribed(JSON.parse(e.events) as string[], event.type));
    if (targets.length === 0) continue;
    await trx
      .insertInto('webhook_deliveries')
      .values(
        targets.map((t) => ({
          id: newId('dlv', 24),
          event_id: event.id,
          endpoint_id: t.id,
          status: 'pending',
          attempts: 0,
          next_attempt_at: event.createdAt,
          created_at: event.createdAt,
        })),
      )
      .execute();
  }
}

/** Runs `work` and writes `events` (webhook events, audit records) in one transaction. */
export async function withEvents<T>(
  db: Kysely<Database>,
  events: TransactionalEvent[],
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const result = await work(trx);
    await writeOutbox(trx, events);
    return result;
  });
}

/**
 * Writes audit records inside the caller's transaction and answers the webhook events that carry
 * them (`audit.<type>`, to the account's endpoints and every admin's), for the same transaction.
 */
export async function writeAudit(trx: Kysely<Database>, records: AuditRecord[]): Promise<OutboxEvent[]> {
  if (records.length === 0) return [];
  await trx
    .insertInto('audit_events')
    .values(
      records.map((r) => ({
        id: r.id,
        type: r.type,
        actor_type: r.actor.type,
        actor_id: r.actor.id,
        actor_account_id: r.actor.accountId,
        actor_label: r.actor.label,
        account_id: r.accountId,
        target_type: r.target?.type ?? null,
        target_id: r.target?.id ?? null,
        ip: r.origin.ip,
        user_agent: r.origin.userAgent,
        request_id: r.origin.requestId,
        data: JSON.stringify(r.data),
        created_at: r.createdAt,
      })),
    )
    .execute();
  return records.map((r) => webhookEventOf(r));
}

function webhookEventOf(r: AuditRecord): OutboxEvent {
  const type = auditWebhookType(r.type);
  const entry = auditEntryJson({ ...r, ...r.origin });
  const body = JSON.stringify({ id: r.id, type, created_at: entry.created_at, data: entry });
  return { id: r.id, type, userId: r.accountId, alsoAdmins: true, body, createdAt: r.createdAt };
}
