import { newId } from '../../shared/secrets.ts';
import type { EventType, OutboxEvent, TestEventType } from '../../domain/webhook-events.ts';

/** Events about the whole server rather than one account go to admins' endpoints. */
const ADMIN_EVENTS = new Set<EventType>(['user.signed_up', 'user.email_changed', 'user.deleted']);

/**
 * Builds an event: `{id, type, created_at, data}`, serialised once with JSON.stringify so the
 * receiver that re-serialises the parsed body (as the documented handler does) gets the same bytes.
 */
export function buildEvent(
  type: EventType | TestEventType,
  userId: string | null,
  data: Record<string, unknown>,
  now: number,
): OutboxEvent {
  const id = newId('evt', 24);
  const createdAt = now;
  const body = JSON.stringify({ id, type, created_at: new Date(now).toISOString(), data });
  return { id, type, userId: ADMIN_EVENTS.has(type as EventType) ? null : userId, body, createdAt };
}
