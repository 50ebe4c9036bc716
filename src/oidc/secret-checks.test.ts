import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PresentedClient } from '../http/context.ts';
import { createSecretChecks } from './client-auth.ts';

const presented = (id: string, secret: string, storedHash: string, matched: boolean): PresentedClient => ({
  id,
  viaBasic: false,
  secret,
  checked: { storedHash, matched },
  type: 'service',
  api: null,
  isPublic: false,
});

describe('client secret checks held for oidc-provider while their requests are answered', () => {
  it('answers for the same client, secret and stored hash only, until the request lets go', () => {
    const checks = createSecretChecks();
    const release = checks.hold(presented('app_a', 'lk_s1', 'hash-a', true));
    assert.equal(checks.earlier('app_a', 'lk_s1', 'hash-a'), true);
    assert.equal(checks.earlier('app_b', 'lk_s1', 'hash-a'), undefined);
    assert.equal(checks.earlier('app_a', 'lk_s2', 'hash-a'), undefined);
    assert.equal(checks.earlier('app_a', 'lk_s1', 'hash-rotated'), undefined);
    release();
    assert.equal(checks.earlier('app_a', 'lk_s1', 'hash-a'), undefined);
  });

  it('keeps each request in flight with the same secret until its own answer is sent', () => {
    const checks = createSecretChecks();
    const wrongClient = checks.hold(presented('app_b', 'lk_s1', 'hash-b', false));
    const first = checks.hold(presented('app_a', 'lk_s1', 'hash-a', true));
    const second = checks.hold(presented('app_a', 'lk_s1', 'hash-a', true));
    assert.equal(checks.earlier('app_b', 'lk_s1', 'hash-b'), false);
    first();
    assert.equal(checks.earlier('app_a', 'lk_s1', 'hash-a'), true);
    second();
    assert.equal(checks.earlier('app_a', 'lk_s1', 'hash-a'), undefined);
    assert.equal(checks.earlier('app_b', 'lk_s1', 'hash-b'), false);
    wrongClient();
    assert.equal(checks.earlier('app_b', 'lk_s1', 'hash-b'), undefined);
  });

  it('holds nothing for a request that presented no secret', () => {
    const checks = createSecretChecks();
    checks.hold({ ...presented('app_a', '', 'hash-a', false), secret: null })();
    assert.equal(checks.earlier('app_a', '', 'hash-a'), undefined);
  });
});
