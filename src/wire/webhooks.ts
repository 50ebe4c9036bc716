import { z } from 'zod';
import { ALL_AUDIT_EVENTS, AUDIT_EVENT_TYPES, EVENT_TYPES } from '../domain/webhook-events.ts';

/** /v2/webhooks on the wire: endpoints, their secrets (shown once) and the delivery log. */
const eventList = z
  .array(
    z.enum(['*', ...EVENT_TYPES, ALL_AUDIT_EVENTS, ...AUDIT_EVENT_TYPES], {
      message: `each event must be "*", one of: ${EVENT_TYPES.join(', ')}, or "audit.*" or an audit.<type>`,
    }),
  )
  .min(1, 'subscribe to at least one event')
  .transform((e) => [...new Set(e)]);

export const createWebhookSchema = z.strictObject({
  url: z.string().max(2000),
  events: eventList,
  description: z.string().trim().max(200).nullish(),
});
export const updateWebhookSchema = z.strictObject({
  url: z.string().max(2000).optional(),
  events: eventList.optional(),
  description: z.string().trim().max(200).nullish(),
  /** `active` re-enables an endpoint that was disabled after failing. */
  status: z.enum(['active', 'disabled']).optional(),
});

export const endpointViewSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  status: z.enum(['active', 'disabled']),
  disabled_reason: z.string().nullable(),
  failing_since: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type EndpointView = z.infer<typeof endpointViewSchema>;
/** Create and rotate answer with the signing secret, this once. */
export const createdEndpointSchema = endpointViewSchema.extend({ secret: z.string() });
export const rotatedEndpointSchema = createdEndpointSchema.extend({ previous_secret_expires_at: z.iso.datetime() });
export const deliveryViewSchema = z.object({
  id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  response_code: z.number().int().nullable(),
  latency_ms: z.number().int().nullable(),
  error: z.string().nullable(),
  last_attempt_at: z.iso.datetime().nullable(),
  next_attempt_at: z.iso.datetime().nullable(),
  delivered_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
  /** The exact body sent and signed (the same bytes on every attempt). */
  request_body: z.string(),
  /** Every attempt, oldest first. */
  attempt_log: z.array(
    z.object({
      attempt: z.number().int(),
      at: z.iso.datetime(),
      response_code: z.number().int().nullable(),
      latency_ms: z.number().int(),
      error: z.string().nullable(),
      /** The headers sent with this attempt (signature values; never the secret); null if not recorded. */
      request_headers: z.record(z.string(), z.string()).nullable(),
      /** The first KiB of the response body as plain text, control characters removed; null if none. */
      response_excerpt: z.string().nullable(),
    }),
  ),
});
/** The answer to "send test event": the one delivery queued, to this endpoint only. */
export const testEventQueuedSchema = z.object({
  queued: z.literal(true),
  event_id: z.string(),
  delivery_id: z.string(),
});
export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;
export type UpdateWebhookInput = z.infer<typeof updateWebhookSchema>;
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

const clampLimit = (v: unknown) => Math.min(Math.max(Number(v) || 50, 1), 200);
/** The delivery log's page size: an out-of-range or unreadable limit is brought into range, never refused. */
export const deliveriesQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(200)
    .default(50)
    .catch(({ input }) => clampLimit(input)),
});
