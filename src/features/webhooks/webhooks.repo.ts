import { sql } from 'kysely';
import { isPostgres, type DB } from '../../db/client.ts';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../../db/schema.ts';
import { DISABLED_FAILING, type OutboxEvent } from '../../domain/webhook-events.ts';
import type { AuditRecord } from '../../domain/audit.ts';
import { claimFairly, type ClaimLimits } from './claims.repo.ts';
import { withEvents, writeOutbox, type TransactionalEvent } from './outbox.repo.ts';
import { newId } from '../../shared/secrets.ts';

/** A claimed delivery with what sending it needs. */
export interface DueDelivery {
  id: string;
  event_id: string;
  endpoint_id: string;
  attempts: number;
  body: string;
  url: string;
  secret_enc: string;
  previous_secret_enc: string | null;
  previous_secret_until: number | null;
}

/** What an attempt sent and what came back, for the delivery log. */
export interface AttemptDetails {
  requestHeaders?: Record<string, string>;
  responseExcerpt?: string | null;
}

/** The stored excerpt's length, at most (characters): the repository holds the cap whoever writes. */
export const EXCERPT_MAX_CHARS = 1024;

const detailColumns = (x: AttemptDetails) => ({
  request_headers: x.requestHeaders ? JSON.stringify(x.requestHeaders) : null,
  response_excerpt: x.responseExcerpt ? x.responseExcerpt.slice(0, EXCERPT_MAX_CHARS) : null,
});

/** A delivery with its event's type and the exact body sent. */
export type DeliveryWithEvent = WebhookDeliveryRow & { type: string; body: string };

/** Thrown inside the insert's transaction to roll it back. */
class OverLimit extends Error {}

export function createWebhooksRepo(db: DB) {
  const postgres = isPostgres(db);
  return {
    /**
     * Inserts the endpoint unless its account already has `max`; false then. Concurrent inserts
     * are serialised per account (SQLite: the write lock; PostgreSQL: the account's row, locked),
     * so the count each one checks includes the others'.
     */
    async insertEndpointWithin(
      row: WebhookEndpointRow,
      max: number,
      events: TransactionalEvent[] = [],
    ): Promise<boolean> {
      try {
        await withEvents(db, events, async (trx) => {
          if (postgres)
            await trx.selectFrom('users').select('id').where('id', '=', row.user_id).forNoKeyUpdate().execute();
          await trx.insertInto('webhook_endpoints').values(row).execute();
          const counted = await trx
            .selectFrom('webhook_endpoints')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('user_id', '=', row.user_id)
            .executeTakeFirst();
          if (Number(counted?.n ?? 0) > max) throw new OverLimit();
        });
        return true;
      } catch (err) {
        if (err instanceof OverLimit) return false;
        throw err;
      }
    },
    async findEndpoint(id: string): Promise<WebhookEndpointRow | undefined> {
      return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async listEndpoints(userId: string): Promise<WebhookEndpointRow[]> {
      return db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .execute();
    },
    async updateEndpoint(
      id: string,
      changes: Partial<WebhookEndpointRow>,
      events: TransactionalEvent[] = [],
    ): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx.updateTable('webhook_endpoints').set(changes).where('id', '=', id).execute(),
      );
    },
    /** Re-enabled: what waited for it goes out now rather than at its old retry time. */
    async bringForward(endpointId: string, now: number): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: now })
        .where('endpoint_id', '=', endpointId)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '>', now)
        .execute();
    },
    async deleteEndpoint(id: string, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) => trx.deleteFrom('webhook_endpoints').where('id', '=', id).execute());
    },

    async listDeliveries(endpointId: string, limit: number): Promise<DeliveryWithEvent[]> {
      return db
        .selectFrom('webhook_deliveries')
        .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
        .selectAll('webhook_deliveries')
        .select(['webhook_events.type', 'webhook_events.body'])
        .where('webhook_deliveries.endpoint_id', '=', endpointId)
        .orderBy('webhook_deliveries.created_at', 'desc')
        .orderBy('webhook_deliveries.id', 'desc')
        .limit(limit)
        .execute();
    },
    async findDeliveryWithEvent(endpointId: string, id: string): Promise<DeliveryWithEvent | undefined> {
      return db
        .selectFrom('webhook_deliveries')
        .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
        .selectAll('webhook_deliveries')
        .select(['webhook_events.type', 'webhook_events.body'])
        .where('webhook_deliveries.id', '=', id)
        .where('webhook_deliveries.endpoint_id', '=', endpointId)
        .executeTakeFirst();
    },
    async findDelivery(endpointId: string, id: string): Promise<WebhookDeliveryRow | undefined> {
      return db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('id', '=', id)
        .where('endpoint_id', '=', endpointId)
        .executeTakeFirst();
    },
    /** Gives a claimed delivery back unattempted (shutdown): the next claimer sends it at once. */
    async release(id: string): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ locked_until: null })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },
    /** Queues a delivery again now (same event, so the same webhook-id). */
    async requeue(id: string, now: number): Promise<void> {
      await db
        .updateTable('webhook_deliveries')
        .set({ status: 'pending', next_attempt_at: now, locked_until: null })
        .where('id', '=', id)
        .execute();
    },

    /**
     * "Retry now": a queued delivery's next attempt becomes due at `now`. Never while a worker holds
     * its claim (the claim is left alone, so the attempt in flight is the only one sent); false then,
     * or when the delivery is no longer queued.
     */
    async bringDeliveryForward(id: string, now: number): Promise<boolean> {
      const result = await db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: now })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    /**
     * Queues `event` for this one endpoint (a test event: no subscription decides), unless the
     * account already queued `max` events of its type since `since`; false then. Concurrent requests
     * are serialised per account as endpoint inserts are, so the count each checks includes the others'.
     */
    async queueForEndpointWithin(
      endpoint: { id: string; user_id: string },
      event: OutboxEvent,
      limit: { since: number; max: number },
    ): Promise<{ deliveryId: string } | false> {
      const deliveryId = newId('dlv', 24);
      try {
        await db.transaction().execute(async (trx) => {
          if (postgres)
            await trx.selectFrom('users').select('id').where('id', '=', endpoint.user_id).forNoKeyUpdate().execute();
          await trx
            .insertInto('webhook_events')
            .values({
              id: event.id,
              user_id: endpoint.user_id,
              type: event.type,
              body: event.body,
              created_at: event.createdAt,
            })
            .execute();
          await trx
            .insertInto('webhook_deliveries')
            .values({
              id: deliveryId,
              event_id: event.id,
              endpoint_id: endpoint.id,
              status: 'pending',
              attempts: 0,
              next_attempt_at: event.createdAt,
              created_at: event.createdAt,
            })
            .execute();
          const counted = await trx
            .selectFrom('webhook_events')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('user_id', '=', endpoint.user_id)
            .where('type', '=', event.type)
            .where('created_at', '>', limit.since)
            .executeTakeFirst();
          if (Number(counted?.n ?? 0) > limit.max) throw new OverLimit();
        });
        return { deliveryId };
      } catch (err) {
        if (err instanceof OverLimit) return false;
        throw err;
      }
    },

    /** Claims due deliveries fairly (see claimFairly) and returns what sending them needs. */
    async claimDue(limits: ClaimLimits): Promise<DueDelivery[]> {
      const claimed = await claimFairly(db, limits);
      if (claimed.length === 0) return [];
      return db
        .selectFrom('webhook_deliveries')
        .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
        .innerJoin('webhook_endpoints', 'webhook_endpoints.id', 'webhook_deliveries.endpoint_id')
        .select([
          'webhook_deliveries.id',
          'webhook_deliveries.event_id',
          'webhook_deliveries.endpoint_id',
          'webhook_deliveries.attempts',
          'webhook_events.body',
          'webhook_endpoints.url',
          'webhook_endpoints.secret_enc',
          'webhook_endpoints.previous_secret_enc',
          'webhook_endpoints.previous_secret_until',
        ])
        .where(
          'webhook_deliveries.id',
          'in',
          claimed.map((c) => c.id),
        )
        .execute();
    },

    /** The attempts of these deliveries, oldest first. */
    async attemptsOf(deliveryIds: string[]) {
      if (deliveryIds.length === 0) return [];
      return db
        .selectFrom('webhook_attempts')
        .selectAll()
        .where('delivery_id', 'in', deliveryIds)
        .orderBy('attempt')
        .execute();
    },

    async recordSuccess(
      d: DueDelivery,
      at: number,
      statusCode: number,
      latencyMs: number,
      details: AttemptDetails = {},
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('webhook_attempts')
          .values({
            delivery_id: d.id,
            attempt: d.attempts + 1,
            at,
            status_code: statusCode,
            latency_ms: latencyMs,
            error: null,
            ...detailColumns(details),
          })
          .execute();
        await trx
          .updateTable('webhook_deliveries')
          .set({
            status: 'succeeded',
            attempts: d.attempts + 1,
            locked_until: null,
            last_status_code: statusCode,
            last_error: null,
            last_latency_ms: latencyMs,
            last_attempt_at: at,
            delivered_at: at,
          })
          .where('id', '=', d.id)
          .execute();
        await trx
          .updateTable('webhook_endpoints')
          .set({ failing_since: null })
          .where('id', '=', d.endpoint_id)
          .execute();
      });
    },

    /**
     * Records a failed attempt: retry at `nextAttemptAt`, or give up (null). The endpoint's run of
     * failures starts now unless it already had; past `disableBefore` the endpoint is disabled
     * and `disabledEvent` goes to the outbox in the same transaction.
     */
    async recordFailure(
      d: DueDelivery,
      outcome: {
        at: number;
        statusCode: number | null;
        latencyMs: number;
        error: string;
        nextAttemptAt: number | null;
      } & AttemptDetails,
      disable: {
        failingSinceBefore: number;
        event: (endpoint: WebhookEndpointRow) => OutboxEvent;
        /** The audit record of the server disabling it, written with the change. */
        audit?: (endpoint: WebhookEndpointRow) => AuditRecord;
      },
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('webhook_attempts')
          .values({
            delivery_id: d.id,
            attempt: d.attempts + 1,
            at: outcome.at,
            status_code: outcome.statusCode,
            latency_ms: outcome.latencyMs,
            error: outcome.error.slice(0, 500),
            ...detailColumns(outcome),
          })
          .execute();
        await trx
          .updateTable('webhook_deliveries')
          .set({
            status: outcome.nextAttemptAt === null ? 'failed' : 'pending',
            attempts: d.attempts + 1,
            next_attempt_at: outcome.nextAttemptAt ?? outcome.at,
            locked_until: null,
            last_status_code: outcome.statusCode,
            last_error: outcome.error.slice(0, 500),
            last_latency_ms: outcome.latencyMs,
            last_attempt_at: outcome.at,
          })
          .where('id', '=', d.id)
          .execute();
        await trx
          .updateTable('webhook_endpoints')
          .set({ failing_since: sql<number>`coalesce(failing_since, ${outcome.at})` })
          .where('id', '=', d.endpoint_id)
          .execute();
        const endpoint = await trx
          .selectFrom('webhook_endpoints')
          .selectAll()
          .where('id', '=', d.endpoint_id)
          .executeTakeFirst();
        if (
          endpoint &&
          endpoint.status === 'active' &&
          endpoint.failing_since !== null &&
          endpoint.failing_since <= disable.failingSinceBefore
        ) {
          await trx
            .updateTable('webhook_endpoints')
            .set({ status: 'disabled', disabled_reason: DISABLED_FAILING, updated_at: outcome.at })
            .where('id', '=', endpoint.id)
            .execute();
          await writeOutbox(trx, [disable.event(endpoint), ...(disable.audit ? [disable.audit(endpoint)] : [])]);
        }
      });
    },

    /** Oldest undelivered work, for metrics and tests. */
    async pendingCount(): Promise<number> {
      const row = await db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}
export type WebhooksRepo = ReturnType<typeof createWebhooksRepo>;
