import type { DB } from '../../db/client.ts';
import type { WebhookEndpointRow } from '../../db/schema.ts';

/** How deliveries to one endpoint are going (times in epoch ms). */
export interface EndpointHealth {
  lastSuccessAt: number | null;
  lastFailure: { at: number; statusCode: number | null; error: string } | null;
  pending: number;
  /** Deliveries attempted in the window, and how many of them succeeded. */
  attempted: number;
  succeeded: number;
}

/** The most endpoints the console lists on one page (newest first). */
export const MAX_ENDPOINTS_LISTED = 500;

/**
 * Delivery health for the operators' console. Every question is asked per endpoint through an
 * index that starts with endpoint_id (deliveries by endpoint and last attempt, by endpoint and
 * status; attempts by delivery), so a busy outbox is not read in full to draw the page.
 */
export function createWebhookHealthRepo(db: DB) {
  async function healthOf(endpointId: string, since: number): Promise<EndpointHealth> {
    const lastSuccess = await db
      .selectFrom('webhook_deliveries')
      .select('last_attempt_at')
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'succeeded')
      .orderBy('last_attempt_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    // A failed attempt stays in webhook_attempts after a later success clears the delivery's error.
    const lastFailure = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_attempts as a', 'a.delivery_id', 'd.id')
      .select(['a.at', 'a.status_code', 'a.error'])
      .where('d.endpoint_id', '=', endpointId)
      .where('d.last_attempt_at', 'is not', null)
      .where('a.error', 'is not', null)
      .orderBy('d.last_attempt_at', 'desc')
      .orderBy('a.at', 'desc')
      .limit(1)
      .executeTakeFirst();
    const pending = await db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    const recent = await db
      .selectFrom('webhook_deliveries')
      .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('endpoint_id', '=', endpointId)
      .where('last_attempt_at', '>=', since)
      .groupBy('status')
      .execute();
    const count = (status?: string) =>
      recent.filter((r) => status === undefined || r.status === status).reduce((n, r) => n + Number(r.n), 0);
    return {
      lastSuccessAt: lastSuccess?.last_attempt_at == null ? null : Number(lastSuccess.last_attempt_at),
      lastFailure: lastFailure
        ? { at: Number(lastFailure.at), statusCode: lastFailure.status_code, error: lastFailure.error ?? '' }
        : null,
      pending: Number(pending.n),
      attempted: count(),
      succeeded: count('succeeded'),
    };
  }

  return {
    /** Every endpoint (the newest MAX_ENDPOINTS_LISTED), with its owner's email. */
    async listEndpoints(): Promise<Array<WebhookEndpointRow & { owner_email: string }>> {
      return db
        .selectFrom('webhook_endpoints')
        .innerJoin('users', 'users.id', 'webhook_endpoints.user_id')
        .selectAll('webhook_endpoints')
        .select('users.email as owner_email')
        .orderBy('webhook_endpoints.created_at', 'desc')
        .orderBy('webhook_endpoints.id', 'desc')
        .limit(MAX_ENDPOINTS_LISTED)
        .execute();
    },
    healthOf,
  };
}
export type WebhookHealthRepo = ReturnType<typeof createWebhookHealthRepo>;
