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
  'user.deleted',
  'user.email_changed',
  'user.signed_up',
  'webhook_endpoint.disabled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event ready for the outbox: `body` is exactly what is delivered and signed. */
export interface OutboxEvent {
  id: string;
  type: EventType;
  /** Whose endpoints receive it; null: every admin's endpoints. */
  userId: string | null;
  body: string;
  createdAt: number;
}

/** Why an endpoint is disabled. Only one its owner turned off stops collecting events. */
export const DISABLED_BY_OWNER = 'Disabled by its owner';
export const DISABLED_FAILING = 'Every delivery failed for too long';

/** Does an endpoint subscribed to `events` want this type? (`*` is everything.) */
export function subscribed(events: string[], type: string): boolean {
  return events.includes('*') || events.includes(type);
}
