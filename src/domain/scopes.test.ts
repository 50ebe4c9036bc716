import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscribed } from './webhook-events.ts';
import { ADMIN_SCOPE, ALL_API_SCOPES, hasScopes, isApiScope } from './scopes.ts';

describe('scopes (pure)', () => {
  it('needs every required scope, and admin:all stands for all of them', () => {
    assert.equal(hasScopes(['read:users', 'write:users'], ['read:users', 'write:users']), true);
    assert.equal(hasScopes(['read:users'], ['read:users', 'write:users']), false);
    assert.equal(hasScopes([], []), true);
    assert.equal(hasScopes([], ['read:users']), false);
    assert.equal(hasScopes([ADMIN_SCOPE], ALL_API_SCOPES), true);
    assert.equal(hasScopes(new Set(['read:projects']), ['read:projects']), true);
  });

  it('knows its own scopes and nothing else (no prototype keys, no case folding)', () => {
    for (const s of ALL_API_SCOPES) assert.equal(isApiScope(s), true, s);
    for (const s of ['READ:USERS', 'read:user', 'constructor', '__proto__', 'toString', '', 'openid'])
      assert.equal(isApiScope(s), false, s);
  });
});

describe('webhook subscriptions (pure)', () => {
  it('delivers a webhook event to an endpoint subscribed to its type or to *', () => {
    assert.equal(subscribed(['*'], 'api_key.created'), true);
    assert.equal(subscribed(['api_key.created'], 'api_key.created'), true);
    assert.equal(subscribed(['api_key.revoked'], 'api_key.created'), false);
    assert.equal(subscribed([], 'api_key.created'), false);
  });
});
