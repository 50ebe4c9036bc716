import { ADMIN_SCOPE, ALL_API_SCOPES, API_SCOPES } from '../../domain/scopes.ts';
import { APPLICATION_TYPES, type ApplicationType, type SubjectType } from '../../domain/applications.ts';
import { ALL_AUDIT_EVENTS, AUDIT_EVENT_TYPES, EVENT_TYPES } from '../../domain/webhook-events.ts';
import type { ApiKeyView } from '../../wire/api-keys.ts';

/**
 * Helpers that turn service views into what the dashboard templates show: dates people read at a
 * glance, flags for keys that need attention, and form fields back into service input. Pure
 * functions (the clock is passed in), so they are tested on their own.
 */

const DAY = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Keys are due for rotation after 90 days (the documented advice). */
export const ROTATE_AFTER_DAYS = 90;
/** Keys that expire within this many days are flagged. */
export const EXPIRY_WARNING_DAYS = 14;

const toMs = (value: string | number): number => (typeof value === 'number' ? value : Date.parse(value));
const pad = (n: number) => String(n).padStart(2, '0');

/** "27 Nov 2026" (UTC, so every reader and every test sees the same text). */
export function formatDate(value: string | number): string {
  const d = new Date(toMs(value));
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** "27 Nov 2026, 14:05 UTC". */
export function formatDateTime(value: string | number): string {
  const d = new Date(toMs(value));
  return `${formatDate(value)}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** "14:05:09" (UTC), for log tables whose rows are close together. */
export function formatTime(value: string | number): string {
  const d = new Date(toMs(value));
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** "just now", "5 minutes ago", "3 days ago", "in 2 days". */
export function relativeTime(value: string | number, now: number): string {
  const diff = toMs(value) - now;
  const abs = Math.abs(diff);
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  let text: string;
  if (abs < 60_000) return diff <= 0 ? 'just now' : 'in under a minute';
  else if (abs < 3_600_000) text = unit(Math.floor(abs / 60_000), 'minute');
  else if (abs < DAY) text = unit(Math.floor(abs / 3_600_000), 'hour');
  else if (abs < 60 * DAY) text = unit(Math.floor(abs / DAY), 'day');
  else if (abs < 730 * DAY) text = unit(Math.floor(abs / (30 * DAY)), 'month');
  else text = unit(Math.floor(abs / (365 * DAY)), 'year');
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** A `<time>` element's parts: machine-readable, readable and a hover title. */
export interface TimeView {
  iso: string;
  text: string;
  title: string;
}

export function timeView(
  value: string | number | null,
  now: number,
  style: 'date' | 'relative' = 'date',
): TimeView | null {
  if (value === null) return null;
  const ms = toMs(value);
  return {
    iso: new Date(ms).toISOString(),
    text: style === 'date' ? formatDate(ms) : relativeTime(ms, now),
    title: formatDateTime(ms),
  };
}

export type Tone = 'ok' | 'warn' | 'danger' | 'neutral' | 'info';

export interface Flag {
  tone: Tone;
  label: string;
  /** A sentence for the hover title and screen readers. */
  detail: string;
}

/** The status badge and the attention flags of an API key. */
export function keyFlags(
  key: Pick<ApiKeyView, 'status' | 'created_at' | 'expires_at' | 'replaced_by' | 'grace_until'>,
  now: number,
): { badge: Flag; flags: Flag[] } {
  const flags: Flag[] = [];
  let badge: Flag;
  if (key.status === 'revoked')
    badge = { tone: 'neutral', label: 'Revoked', detail: 'This key was revoked and no longer works.' };
  else if (key.status === 'expired')
    badge = { tone: 'neutral', label: 'Expired', detail: 'This key has expired and no longer works.' };
  else if (key.status === 'rotated')
    badge = { tone: 'neutral', label: 'Replaced', detail: 'This key was rotated; its replacement is in use.' };
  else if (key.replaced_by) {
    badge = {
      tone: 'info',
      label: 'Rotating',
      detail:
        'Replaced by a new key; this one keeps working until ' +
        `${key.grace_until ? formatDateTime(key.grace_until) : 'the grace period ends'}.`,
    };
  } else badge = { tone: 'ok', label: 'Active', detail: 'This key is active.' };

  if (key.status === 'active' && !key.replaced_by) {
    if (key.expires_at !== null) {
      const left = Date.parse(key.expires_at) - now;
      if (left <= EXPIRY_WARNING_DAYS * DAY) {
        const days = Math.max(0, Math.ceil(left / DAY));
        flags.push({
          tone: 'warn',
          label: days <= 1 ? 'Expires within a day' : `Expires in ${days} days`,
          detail: `Expires on ${formatDateTime(key.expires_at)}. Rotate it before then to avoid an outage.`,
        });
      }
    }
    const age = now - Date.parse(key.created_at);
    if (age >= ROTATE_AFTER_DAYS * DAY) {
      flags.push({
        tone: 'warn',
        label: 'Rotate: older than 90 days',
        detail: `Created ${Math.floor(age / DAY)} days ago. Rotate keys every 90 days.`,
      });
    }
  }
  return { badge, flags };
}

/** True for keys that still authenticate (shown in the main table; the others go below). */
export const isLiveKey = (key: Pick<ApiKeyView, 'status'>) => key.status === 'active';

/** A form field that may be sent once (a string) or many times (an array), as a list. */
export function fieldList(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

/** A single text field, or '' (repeated fields take the last value). */
export function fieldText(value: unknown): string {
  if (Array.isArray(value)) value = value[value.length - 1];
  return typeof value === 'string' ? value : '';
}

/** A textarea's entries: one per line (commas also separate), trimmed, blanks dropped. */
export function lines(text: string): string[] {
  return text
    .split(/[\r\n,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export const EXPIRY_CHOICES = [
  { value: 'never', label: 'Never' },
  { value: '30', label: '30 days' },
  { value: '60', label: '60 days' },
  { value: '90', label: '90 days' },
  { value: 'date', label: 'On a date' },
] as const;
export type ExpiryChoice = (typeof EXPIRY_CHOICES)[number]['value'];

/**
 * The `expires_at` for an expiration choice: null (never), now + N days, or the end of the chosen
 * day in UTC. Returns an error message for a missing or malformed date.
 */
export function expiresAtFrom(
  choice: string,
  date: string,
  now: number,
): { expires_at: string | null } | { error: string } {
  if (choice === 'never') return { expires_at: null };
  if (choice === '30' || choice === '60' || choice === '90')
    return { expires_at: new Date(now + Number(choice) * DAY).toISOString() };
  if (choice === 'date') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return { error: 'Choose the date the key should expire on.' };
    const ms = Date.parse(`${date}T23:59:59.000Z`);
    if (Number.isNaN(ms)) return { error: 'That expiration date is not a valid date.' };
    if (ms <= now) return { error: 'The expiration date must be in the future.' };
    return { expires_at: new Date(ms).toISOString() };
  }
  return { error: 'Choose when the key should expire.' };
}

export interface ScopeOption {
  name: string;
  description: string;
  /** Only admins may pick admin:all. */
  disabled: boolean;
  checked: boolean;
}

/** Every scope as a checkbox, described as in the documented table; admin:all only for admins. */
export function scopeOptions(isAdmin: boolean, checked: readonly string[] = []): ScopeOption[] {
  return ALL_API_SCOPES.map((name) => ({
    name,
    description: API_SCOPES[name],
    disabled: name === ADMIN_SCOPE && !isAdmin,
    checked: checked.includes(name),
  }));
}

/** OAuth scopes that are not API permissions but may appear in a grant. */
const PROTOCOL_SCOPES: Record<string, string> = {
  openid: 'Know who you are',
  offline_access: 'Keep access while you are away',
};

/** A scope's description, or the scope itself for one this server no longer knows. */
export function describeScope(name: string): string {
  if (Object.hasOwn(API_SCOPES, name)) return API_SCOPES[name as keyof typeof API_SCOPES];
  return Object.hasOwn(PROTOCOL_SCOPES, name) ? PROTOCOL_SCOPES[name]! : name;
}

export const APP_TYPE_OPTIONS: ReadonlyArray<{ value: ApplicationType; label: string; hint: string }> = [
  { value: 'web', label: 'Web application', hint: 'A server-side app that can keep a client secret.' },
  { value: 'spa', label: 'Single-page app', hint: 'Runs in the browser: no secret, uses PKCE.' },
  { value: 'native', label: 'Native or mobile app', hint: 'Installed on a device: no secret, uses PKCE.' },
  { value: 'service', label: 'Service (machine to machine)', hint: 'Client credentials grant; no redirect URIs.' },
  { value: 'resource_server', label: 'Resource server', hint: 'An API that introspects tokens; no redirect URIs.' },
];
// Every type the service accepts has an option (checked at load, so a new type is not forgotten).
if (APP_TYPE_OPTIONS.length !== APPLICATION_TYPES.length)
  throw new Error('APP_TYPE_OPTIONS is missing an application type');

/** The subject types an application may choose, as the form offers them. */
export const SUBJECT_TYPE_OPTIONS: ReadonlyArray<{ value: SubjectType; label: string; hint: string }> = [
  { value: 'public', label: 'Public', hint: 'The ID token’s sub is the person’s Latchkey account id.' },
  {
    value: 'pairwise',
    label: 'Pairwise',
    hint:
      'A different sub for each redirect host, so apps cannot match people up. ' +
      'All its redirect addresses must share one host.',
  },
];

export const appTypeLabel = (type: string) => APP_TYPE_OPTIONS.find((o) => o.value === type)?.label ?? type;
export const appUsesRedirects = (type: string) => type === 'web' || type === 'spa' || type === 'native';
/** How long a rotated client secret may keep working beside the new one (the first is the default). */
export const OVERLAP_CHOICES = [
  { value: 'none', label: 'None: it stops now', seconds: 0 },
  { value: '1h', label: '1 hour', seconds: 3600 },
  { value: '24h', label: '24 hours', seconds: 86_400 },
  { value: '7d', label: '7 days', seconds: 604_800 },
] as const;

/** Every type that is issued tokens may have them bound to a DPoP key (a resource server only introspects). */
export const appMayRequireDpop = (type: string) => type !== 'resource_server';
export const appHasSecret = (type: string) => type === 'web' || type === 'service' || type === 'resource_server';

export const EVENT_DESCRIPTIONS: Record<(typeof EVENT_TYPES)[number], string> = {
  'api_key.created': 'An API key was generated',
  'api_key.revoked': 'An API key was revoked',
  'api_key.rotated': 'An API key was rotated',
  'application.created': 'An application was registered',
  'application.deleted': 'An application was deleted',
  'application.secret_rotated': "An application's client secret was rotated",
  'consent.granted': 'You authorized an application',
  'consent.revoked': "You revoked an application's access",
  'grant.revoked': 'An authorization was revoked by the server',
  'user.deleted': 'An account was deleted (administrators only)',
  'user.email_changed': "An account's email address changed (administrators only)",
  'user.signed_up': 'Someone signed up (administrators only)',
  'webhook_endpoint.disabled': 'A webhook endpoint was disabled after failing',
};

export interface EventOption {
  name: string;
  description: string;
  checked: boolean;
}

export function eventOptions(checked: readonly string[] = []): EventOption[] {
  return EVENT_TYPES.map((name) => ({ name, description: EVENT_DESCRIPTIONS[name], checked: checked.includes(name) }));
}

/** The audit trail's event types, chosen apart from "All events" (`audit.*` is all of them). */
export function auditEventOptions(checked: readonly string[] = []): { all: boolean; types: EventOption[] } {
  return {
    all: checked.includes(ALL_AUDIT_EVENTS),
    types: AUDIT_EVENT_TYPES.map((name) => ({ name, description: name.slice(6), checked: checked.includes(name) })),
  };
}

/** Short notices shown after a redirect (`?done=...`): fixed texts, never echoed input. */
export const NOTICES: Record<string, string> = {
  'key-revoked': 'The API key was revoked. Requests that use it are now refused.',
  'app-updated': 'Application saved.',
  'app-deleted': 'The application was deleted, with every token issued to it.',
  'app-approved': 'Application approved: the consent page no longer warns about it.',
  'app-rejected': 'Application rejected: it stopped working and every token issued to it was revoked.',
  'api-updated': 'API saved.',
  'api-deleted': 'The API was deleted: its scopes left every application and its tokens no longer work.',
  'consent-revoked': "Access revoked. The application's tokens no longer work.",
  'webhook-updated': 'Webhook endpoint saved.',
  'webhook-disabled': 'Webhook endpoint disabled. No events are delivered to it until you enable it again.',
  'webhook-enabled': 'Webhook endpoint enabled. New events are delivered to it again.',
  'webhook-deleted': 'The webhook endpoint was deleted.',
  'redelivery-queued': 'Redelivery queued. It will be sent within a few seconds.',
  'retry-queued': 'Retry queued. It will be attempted within a few seconds.',
  'test-queued': 'Test event queued. It will be sent within a few seconds; refresh to see its delivery.',
};

export function noticeFor(value: unknown): string | null {
  const key = fieldText(value);
  return Object.hasOwn(NOTICES, key) ? NOTICES[key]! : null;
}

/** An address as people write it: IPv4-mapped IPv6 (`::ffff:203.0.113.7`) shown as plain IPv4. */
export function displayIp(ip: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip;
}

/** The tone of an HTTP status in a log: 2xx ok, 4xx warn, 5xx/none danger. */
export function statusTone(status: number | null): Tone {
  if (status === null) return 'danger';
  if (status < 300) return 'ok';
  if (status < 500) return 'warn';
  return 'danger';
}

export function deliveryTone(status: string): Tone {
  return status === 'succeeded' ? 'ok' : status === 'pending' ? 'info' : 'danger';
}

export const deliveryLabel = (status: string) =>
  status === 'succeeded' ? 'Delivered' : status === 'pending' ? 'Pending' : status === 'failed' ? 'Failed' : status;
