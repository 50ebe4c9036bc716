import { Conflict, NotFound, TooMany, ValidationError } from '../../domain/errors.ts';
import type { Principal } from '../../domain/principal.ts';
import type { SecretBox } from '../../shared/encryption.ts';
import { newId } from '../../shared/secrets.ts';
import { newWebhookSecret } from '../../shared/webhook-signature.ts';
import type { WebhookEndpointRow } from '../../db/schema.ts';
import type { CreateWebhookInput, DeliveryView, EndpointView, UpdateWebhookInput } from '../../wire/webhooks.ts';
import { DISABLED_BY_OWNER, TEST_EVENT_TYPE } from '../../domain/webhook-events.ts';
import { buildEvent } from './events.ts';
import { isPublicAddress } from './ssrf.ts';
import type { DeliveryWithEvent, WebhooksRepo } from './webhooks.repo.ts';
import type { AuditRecord, AuditType, Provenance } from '../../domain/audit.ts';

type AttemptRow = {
  delivery_id: string;
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  request_headers: string | null;
  response_excerpt: string | null;
};

/** Test events an account may queue per hour: each makes the server call a URL a person typed. */
export const TEST_EVENTS_PER_HOUR = 30;
const HOUR = 3_600_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const toView = (row: WebhookEndpointRow): EndpointView => ({
  id: row.id,
  url: row.url,
  events: JSON.parse(row.events) as string[],
  description: row.description,
  status: row.status as EndpointView['status'],
  disabled_reason: row.disabled_reason,
  failing_since: iso(row.failing_since),
  created_at: iso(row.created_at)!,
  updated_at: iso(row.updated_at)!,
});

const deliveryView = (row: DeliveryWithEvent, attempts: AttemptRow[]): DeliveryView => ({
  id: row.id,
  event_id: row.event_id,
  event_type: row.type,
  status: row.status as DeliveryView['status'],
  attempts: row.attempts,
  response_code: row.last_status_code,
  latency_ms: row.last_latency_ms,
  error: row.last_error,
  last_attempt_at: iso(row.last_attempt_at),
  next_attempt_at: row.status === 'pending' ? iso(row.next_attempt_at) : null,
  delivered_at: iso(row.delivered_at),
  created_at: iso(row.created_at)!,
  request_body: row.body,
  attempt_log: attempts.map((a) => ({
    attempt: a.attempt,
    at: iso(a.at)!,
    response_code: a.status_code,
    latency_ms: a.latency_ms,
    error: a.error,
    request_headers: a.request_headers === null ? null : (JSON.parse(a.request_headers) as Record<string, string>),
    response_excerpt: a.response_excerpt,
  })),
});

/** /v2/webhooks: endpoints, their secrets (shown once, sealed at rest), the delivery log. */
export function createWebhooksService(deps: {
  repo: WebhooksRepo;
  box: SecretBox;
  now(): number;
  allowPrivate: boolean;
  secretOverlapMs: number;
  maxEndpoints: number;
  /**
   * Records each change in the audit trail, written with the change: features/audit's `Audit`,
   * named by its shape because the audit trail writes through this folder's outbox (no cycle).
   */
  audit: {
    event(
      type: AuditType,
      input: { account: string | null; target: { type: string; id: string }; data: Record<string, unknown> },
      by: Provenance,
    ): AuditRecord;
  };
}) {
  const { repo, box, now } = deps;
  const target = (id: string) => ({ type: 'webhook_endpoint', id });
  // The trail names where an endpoint points by its host only: receivers often carry a token in
  // the URL's path or query, and the trail is read by more people than the endpoint's owner.
  const hostOf = (url: string) => new URL(url).host;

  /** https to a public host; http and private addresses only with WEBHOOK_ALLOW_PRIVATE. */
  function checkUrl(raw: string): string {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ValidationError('url: must be an absolute URL', 'url');
    }
    if (url.protocol !== 'https:' && !(deps.allowPrivate && url.protocol === 'http:')) {
      throw new ValidationError('url: must use https', 'url');
    }
    if (url.username || url.password || url.hash)
      throw new ValidationError('url: must not contain credentials or a fragment', 'url');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = /^[\d.]+$/.test(host) || host.includes(':');
    if (
      !deps.allowPrivate &&
      (host === 'localhost' || host.endsWith('.localhost') || (literal && !isPublicAddress(host)))
    ) {
      throw new ValidationError('url: must not point to a loopback, private or link-local address', 'url');
    }
    return url.toString();
  }

  /** The caller's own endpoint, or anyone's with admin:all (see Principal.ownedOrAdmin). */
  async function owned(caller: Principal, id: string): Promise<WebhookEndpointRow> {
    return caller.ownedOrAdmin(await repo.findEndpoint(id), (row) => row.user_id, 'Webhook endpoint');
  }

  return {
    async create(userId: string, data: CreateWebhookInput, by: Provenance): Promise<EndpointView & { secret: string }> {
      const secret = newWebhookSecret();
      const t = now();
      const row: WebhookEndpointRow = {
        id: newId('whk'),
        user_id: userId,
        url: checkUrl(data.url),
        events: JSON.stringify(data.events),
        description: data.description ?? null,
        secret_enc: box.seal(secret),
        previous_secret_enc: null,
        previous_secret_until: null,
        status: 'active',
        disabled_reason: null,
        failing_since: null,
        last_claimed_at: null,
        created_at: t,
        updated_at: t,
      };
      // 409, not 400: the request is well formed; the account's current state refuses it (as
      // for a delivery already queued), and deleting an endpoint makes it acceptable.
      const recorded = deps.audit.event(
        'webhook_endpoint.created',
        {
          account: userId,
          target: target(row.id),
          data: { host: hostOf(row.url), events: data.events },
        },
        by,
      );
      if (!(await repo.insertEndpointWithin(row, deps.maxEndpoints, [recorded]))) {
        throw new Conflict(
          `An account may have at most ${deps.maxEndpoints} webhook endpoints; delete one to add another`,
        );
      }
      return { ...toView(row), secret };
    },
    async list(userId: string): Promise<EndpointView[]> {
      return (await repo.listEndpoints(userId)).map(toView);
    },
    async get(caller: Principal, id: string): Promise<EndpointView> {
      return toView(await owned(caller, id));
    },
    async update(caller: Principal, id: string, data: UpdateWebhookInput, by: Provenance): Promise<EndpointView> {
      const row = await owned(caller, id);
      const changes: Partial<WebhookEndpointRow> = {
        ...(data.url !== undefined && { url: checkUrl(data.url) }),
        ...(data.events && { events: JSON.stringify(data.events) }),
        ...(data.description !== undefined && { description: data.description ?? null }),
        ...(data.status === 'active' && { status: 'active', disabled_reason: null, failing_since: null }),
        ...(data.status === 'disabled' && { status: 'disabled', disabled_reason: DISABLED_BY_OWNER }),
        updated_at: now(),
      };
      const fields = (['url', 'events', 'description', 'status'] as const).filter(
        (field) => changes[field] !== undefined && changes[field] !== row[field],
      );
      await repo.updateEndpoint(id, changes, [
        deps.audit.event(
          'webhook_endpoint.changed',
          {
            account: row.user_id,
            target: target(id),
            data: {
              host: hostOf(changes.url ?? row.url),
              fields,
              ...(fields.includes('status') && { status: changes.status }),
            },
          },
          by,
        ),
      ]);
      if (data.status === 'active' && row.status !== 'active') await repo.bringForward(id, now());
      return toView({ ...row, ...changes });
    },
    async remove(caller: Principal, id: string, by: Provenance): Promise<void> {
      const row = await owned(caller, id);
      await repo.deleteEndpoint(id, [
        deps.audit.event(
          'webhook_endpoint.deleted',
          {
            account: row.user_id,
            target: target(id),
            data: { host: hostOf(row.url) },
          },
          by,
        ),
      ]);
    },
    /** A new secret (shown once); deliveries carry signatures with both for the overlap. */
    async rotateSecret(
      caller: Principal,
      id: string,
      by: Provenance,
    ): Promise<EndpointView & { secret: string; previous_secret_expires_at: string }> {
      const row = await owned(caller, id);
      const secret = newWebhookSecret();
      const t = now();
      const changes = {
        secret_enc: box.seal(secret),
        previous_secret_enc: row.secret_enc,
        previous_secret_until: t + deps.secretOverlapMs,
        updated_at: t,
      };
      await repo.updateEndpoint(id, changes, [
        deps.audit.event(
          'webhook_endpoint.changed',
          {
            account: row.user_id,
            target: target(id),
            // Which setting moved, never the secret itself.
            data: { host: hostOf(row.url), fields: ['secret'] },
          },
          by,
        ),
      ]);
      return {
        ...toView({ ...row, ...changes }),
        secret,
        previous_secret_expires_at: iso(changes.previous_secret_until)!,
      };
    },
    async deliveries(caller: Principal, id: string, limit: number) {
      await owned(caller, id);
      const rows = await repo.listDeliveries(id, limit);
      const attempts = await repo.attemptsOf(rows.map((r) => r.id));
      return rows.map((r) =>
        deliveryView(
          r,
          attempts.filter((a) => a.delivery_id === r.id),
        ),
      );
    },
    /** One delivery with its payload and every attempt's headers and response excerpt. */
    async delivery(caller: Principal, id: string, deliveryId: string): Promise<DeliveryView> {
      await owned(caller, id);
      const row = await repo.findDeliveryWithEvent(id, deliveryId);
      if (!row) throw new NotFound('Delivery');
      return deliveryView(row, await repo.attemptsOf([row.id]));
    },
    /**
     * "Retry now": a queued (pending or retrying) delivery is attempted at the worker's next claim
     * instead of at its scheduled time. Delivered and given-up deliveries are redelivered instead;
     * one being sent right now is left to that attempt (never sent twice).
     */
    async retryNow(caller: Principal, id: string, deliveryId: string): Promise<void> {
      await owned(caller, id);
      const delivery = await repo.findDelivery(id, deliveryId);
      if (!delivery) throw new NotFound('Delivery');
      if (delivery.status !== 'pending') throw new Conflict('This delivery is not queued; redeliver it instead');
      if (!(await repo.bringDeliveryForward(deliveryId, now()))) {
        throw new Conflict('This delivery is being sent right now; its outcome appears in the log shortly');
      }
    },
    /**
     * Queues a `webhook.test` event to this endpoint only, delivered and signed like any other (so
     * through the same SSRF guard). Limited per account: it makes the server call a URL a person typed.
     */
    async sendTestEvent(
      caller: Principal,
      id: string,
    ): Promise<{ queued: true; event_id: string; delivery_id: string }> {
      const endpoint = await owned(caller, id);
      if (endpoint.status !== 'active') throw new Conflict('This endpoint is disabled; enable it to send a test event');
      const t = now();
      const event = buildEvent(
        TEST_EVENT_TYPE,
        endpoint.user_id,
        {
          endpoint_id: endpoint.id,
          message: 'A test event, sent because it was asked for. It needs no action.',
        },
        t,
      );
      const queued = await repo.queueForEndpointWithin(endpoint, event, {
        since: t - HOUR,
        max: TEST_EVENTS_PER_HOUR,
      });
      if (!queued) {
        throw new TooMany(`At most ${TEST_EVENTS_PER_HOUR} test events an hour per account; try again later`, 600);
      }
      return { queued: true, event_id: event.id, delivery_id: queued.deliveryId };
    },
    async redeliver(caller: Principal, id: string, deliveryId: string): Promise<void> {
      await owned(caller, id);
      const delivery = await repo.findDelivery(id, deliveryId);
      if (!delivery) throw new NotFound('Delivery');
      if (delivery.status === 'pending') throw new Conflict('This delivery is already queued');
      await repo.requeue(deliveryId, now());
    },
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
