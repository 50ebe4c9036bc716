/**
 * Webhook verifiers for receivers (`latchkey/sdk/webhooks`, Node: uses node:crypto).
 *
 * - `verifyWebhookSignature(payload, signature, secret)`: the seed's function, made length-safe
 *   (the seed's own snippet throws when the signature has the wrong length).
 * - `verifyStandardWebhook(payload, headers, secret)`: Standard Webhooks, with a timestamp
 *   tolerance so a captured delivery cannot be replayed later.
 */
import crypto from 'node:crypto';
import { seedSignature, standardSignature } from '../../../src/shared/webhook-signature.ts';

export function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  if (typeof signature !== 'string' || typeof payload !== 'string') return false;
  const expected = Buffer.from(seedSignature(payload, secret));
  const given = Buffer.from(signature);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
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
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}
