import crypto from 'node:crypto';

/**
 * Webhook signing, in one place for the server and the SDK's verifiers.
 * - The body-only scheme: `X-Webhook-Signature: hex(HMAC-SHA256(secret, body))`, the secret string
 *   itself as the key, as the documented `verifyWebhookSignature` computes it.
 * - Standard Webhooks: `webhook-signature: v1,base64(HMAC-SHA256(key, "id.timestamp.body"))`,
 *   where key is the base64 part of `whsec_<base64>`; several space-separated during a rotation.
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + crypto.randomBytes(32).toString('base64');
}

export function documentedSignature(body: string, secret: string): string {
  return crypto.createHmac('sha256', secret).update(body).digest('hex');
}

function standardKey(secret: string): Buffer {
  return Buffer.from(
    secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret,
    'base64',
  );
}

export function standardSignature(id: string, timestampSeconds: number, body: string, secret: string): string {
  const mac = crypto
    .createHmac('sha256', standardKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/** Every header of one delivery attempt. `secrets[0]` is the current secret (it signs X-Webhook-Signature). */
export function signedHeaders(
  id: string,
  timestampSeconds: number,
  body: string,
  secrets: string[],
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-webhook-signature': documentedSignature(body, secrets[0]!),
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': secrets.map((s) => standardSignature(id, timestampSeconds, body, s)).join(' '),
  };
}
