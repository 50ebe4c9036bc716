import { newId } from '../../shared/secrets.ts';

/** Every event a webhook endpoint can subscribe to. */
export const EVENT_TYPES = [
  'api_key.created',
  'api_key.revoked',
  'api_key.rotated',
  'application.created',
  'application.deleted',
  'application.secret_rotated',
  'consent.granted',
  'consent.revoked',
  'grant.revoked',
  'user.signed_up',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Events about the whole server rather than one account go to admins' endpoints. */
const ADMIN_EVENTS = new Set<EventType>(['user.signed_up']);

/** An event ready for the outbox: `body` is exactly what is delivered and signed. */
export interface OutboxEvent {
  id: string;
  type: EventType;
  /** Whose endpoints receive it; null: every admin's endpoints. */
  userId: string | null;
  body: string;
  createdAt: number;
}

/**
 * Builds an event: `{id, type, created_at, data}`, serialised once with JSON.stringify so the
 * receiver that re-serialises the parsed body (as the documented handler does) gets the same bytes.
 */
export function buildEvent(
  type: EventType,
  userId: string | null,
  data: Record<string, unknown>,
  now: number,
): OutboxEvent {
  const id = newId('evt', 24);
  const createdAt = now;
  const body = JSON.stringify({ id, type, created_at: new Date(now).toISOString(), data });
  return { id, type, userId: ADMIN_EVENTS.has(type) ? null : userId, body, createdAt };
}

/** Why an endpoint is disabled. Only one its owner turned off stops collecting events. */
export const DISABLED_BY_OWNER = 'Disabled by its owner';
export const DISABLED_FAILING = 'Every delivery failed for too long';

/** Does an endpoint subscribed to `events` want this type? (`*` is everything.) */
export function subscribed(events: string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}
