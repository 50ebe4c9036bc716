import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { newId } from '../../shared/secrets.ts';
import { DISABLED_BY_OWNER, subscribed, type OutboxEvent } from '../../domain/webhook-events.ts';

/**
 * Writes events into the outbox inside the caller's transaction, with one pending delivery per
 * subscribed active endpoint, so an event exists exactly when the change that caused it does.
 */
export async function writeOutbox(trx: Kysely<Database>, events: OutboxEvent[]): Promise<void> {
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
    endpoints =
      event.userId === null
        ? endpoints.where('users.is_admin', '=', 1)
        : endpoints.where('webhook_endpoints.user_id', '=', event.userId);
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

/** Runs `work` and writes `events` in one transaction (or just `work`'s writes when there are none). */
export async function withEvents<T>(
  db: Kysely<Database>,
  events: OutboxEvent[],
  work: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const result = await work(trx);
    await writeOutbox(trx, events);
    return result;
  });
}
