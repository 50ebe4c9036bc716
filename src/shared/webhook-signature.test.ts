import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, documentedSignature, signedHeaders, standardSignature } from './webhook-signature.ts';

// The signatures of one delivery, in process: the reference library verifies them on a fixed time.
describe('webhook signatures (pure)', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'api_key.created', data: { name: 'é ✓' } });
  const ts = Math.floor(Date.UTC(2026, 10, 27, 12, 0, 0) / 1000);

  it('signs Standard Webhooks headers that the reference library verifies', () => {
    const secret = newWebhookSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    // The library checks the timestamp against the real clock (5 minutes either way).
    const headers = signedHeaders('msg_1', Math.floor(Date.now() / 1000), body, [secret]);
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    assert.throws(() => new Webhook(newWebhookSecret()).verify(body, headers), /No matching signature/);
  });

  it('signs with every secret during a rotation, the current one first', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const headers = signedHeaders('msg_2', ts, body, [current, previous]);
    assert.deepEqual(headers['webhook-signature']!.split(' '), [
      standardSignature('msg_2', ts, body, current),
      standardSignature('msg_2', ts, body, previous),
    ]);
    assert.equal(headers['x-webhook-signature'], documentedSignature(body, current));
  });

  it("computes the API reference's X-Webhook-Signature: hex HMAC-SHA256 keyed by the secret string", () => {
    const expected = crypto.createHmac('sha256', 'whsec_abc').update(body).digest('hex');
    assert.equal(documentedSignature(body, 'whsec_abc'), expected);
    assert.notEqual(documentedSignature(`${body} `, 'whsec_abc'), expected);
  });
});
