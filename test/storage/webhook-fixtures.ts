import type { DB } from '../../src/db/client.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import type { EventType, OutboxEvent } from '../../src/domain/webhook-events.ts';
import { withEvents } from '../../src/features/webhooks/outbox.repo.ts';
import { createWebhooksRepo } from '../../src/features/webhooks/webhooks.repo.ts';
import { endpointRow, insertUser, type WebhookEndpointRow } from './rows.ts';

/** Webhook fixtures shared by the webhooks, claims and outbox contracts. */

/** Queues an event for `userId` through the outbox (one pending delivery per subscribed endpoint). */
export async function queueEvent(
  db: DB,
  userId: string | null,
  at: number,
  type: EventType = 'api_key.created',
): Promise<OutboxEvent> {
  const event = buildEvent(type, userId, { at }, at);
  await withEvents(db, [event], async () => {});
  return event;
}

/** An account with `n` active endpoints. */
export async function accountWithEndpoints(
  db: DB,
  n: number,
  over: Partial<WebhookEndpointRow> = {},
): Promise<{ userId: string; endpoints: WebhookEndpointRow[] }> {
  const user = await insertUser(db);
  const endpoints: WebhookEndpointRow[] = [];
  for (let i = 0; i < n; i++) {
    const row = endpointRow(user.id, over);
    await createWebhooksRepo(db).insertEndpointWithin(row, 1_000);
    endpoints.push(row);
  }
  return { userId: user.id, endpoints };
}

/** Every delivery row of these endpoints (any status). */
export async function deliveriesOf(db: DB, endpointIds: string[]) {
  if (endpointIds.length === 0) return [];
  return db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', 'in', endpointIds).execute();
}

/** Removes every endpoint (their deliveries and attempts go with them): claims see the whole table. */
export async function clearWebhooks(db: DB): Promise<void> {
  await db.deleteFrom('webhook_endpoints').execute();
}
