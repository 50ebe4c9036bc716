import { AUDIT_TYPES, auditWebhookType } from './audit.ts';

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

/** Audit events as webhook events: `audit.<type>`, each one of AUDIT_TYPES. */
export const AUDIT_EVENT_TYPES = AUDIT_TYPES.map(auditWebhookType);
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Subscribes to every audit event type (`*` is every event type but these). */
export const ALL_AUDIT_EVENTS = 'audit.*';

/**
 * Sent to one endpoint when its owner asks ("Send test event"), signed like any other. Not in
 * EVENT_TYPES: nobody subscribes to it, it goes only to the endpoint asked.
 */
export const TEST_EVENT_TYPE = 'webhook.test';
export type TestEventType = typeof TEST_EVENT_TYPE;

/** An event ready for the outbox: `body` is exactly what is delivered and signed. */
export interface OutboxEvent {
  id: string;
  type: EventType | AuditEventType | TestEventType;
  /** Whose endpoints receive it; null: every admin's endpoints. */
  userId: string | null;
  /** Admins' endpoints receive it as well as `userId`'s (the audit trail: admins see everything). */
  alsoAdmins?: boolean;
  body: string;
  createdAt: number;
}

/** Why an endpoint is disabled. Only one its owner turned off stops collecting events. */
export const DISABLED_BY_OWNER = 'Disabled by its owner';
export const DISABLED_FAILING = 'Every delivery failed for too long';

/**
 * Does an endpoint subscribed to `events` want this type? `*` is every change event; the audit
 * trail (many events per sign-in) comes only to endpoints that ask for it, by name or `audit.*`.
 */
export function subscribed(events: string[], type: string): boolean {
  if (events.includes(type)) return true;
  return type.startsWith('audit.') ? events.includes(ALL_AUDIT_EVENTS) : events.includes('*');
}
