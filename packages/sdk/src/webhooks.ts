/**
 * Webhook verifiers for receivers (`@latchkey/sdk/webhooks`, Node: uses node:crypto).
 *
 * - `verifyWebhookSignature(payload, signature, secret)`: checks `X-Webhook-Signature`, the hex
 *   HMAC-SHA256 of the raw body keyed with the secret string; length-safe and constant-time.
 * - `verifyStandardWebhook(payload, headers, secret)`: Standard Webhooks (`webhook-id`,
 *   `webhook-timestamp`, `webhook-signature`), with a timestamp tolerance so a captured delivery
 *   cannot be replayed later.
 *
 * The package is installed on its own, so it computes the signatures itself; its tests check them
 * against deliveries signed by a real server.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** `X-Webhook-Signature`: hex(HMAC-SHA256(secret, body)), the secret string itself as the key. */
function bodySignature(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")), key = the base64 after `whsec_`. */
function standardSignature(id: string, timestampSeconds: number, body: string, secret: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  if (typeof signature !== 'string' || typeof payload !== 'string') return false;
  const expected = Buffer.from(bodySignature(payload, secret));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface StandardWebhookHeaders {
  'webhook-id'?: string | string[] | undefined;
  'webhook-timestamp'?: string | string[] | undefined;
  'webhook-signature'?: string | string[] | undefined;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function verifyStandardWebhook(
  payload: string,
  headers: StandardWebhookHeaders,
  secret: string,
  opts: { toleranceSeconds?: number; now?: number } = {},
): boolean {
  const id = first(headers['webhook-id']);
  const timestamp = Number(first(headers['webhook-timestamp']));
  const signatures = first(headers['webhook-signature']);
  if (!id || !Number.isInteger(timestamp) || !signatures) return false;
  const nowS = Math.floor((opts.now ?? Date.now()) / 1000);
  if (Math.abs(nowS - timestamp) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(standardSignature(id, timestamp, payload, secret));
  return signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
