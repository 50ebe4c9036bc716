import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Account } from '../domain/account.ts';
import { accountClaims, acrOf, releasedClaims, signedIn } from './claims.ts';

const ada: Account = {
  id: 'usr_1',
  email: 'ada@example.com',
  name: 'Ada',
  isAdmin: false,
  isAuditor: false,
  disabled: false,
  createdAt: 1_700_000_000_000,
  updatedAt: 1_764_633_600_999,
  twoFactor: false,
  signInCount: 1,
  emailVerified: true,
};

describe('OpenID claims of an account', () => {
  it('are the standard claims, updated_at in seconds, a missing name left out', () => {
    assert.deepEqual(accountClaims(ada), {
      sub: 'usr_1',
      name: 'Ada',
      updated_at: 1_764_633_600,
      email: 'ada@example.com',
      email_verified: true,
    });
    assert.equal('name' in accountClaims({ ...ada, name: null }), false);
  });

  it('release sub always, then only what the granted scopes and single claims name', () => {
    assert.deepEqual(releasedClaims(ada, { scopes: ['openid'], claims: [] }), { sub: 'usr_1' });
    assert.deepEqual(Object.keys(releasedClaims(ada, { scopes: ['openid', 'email'], claims: [] })), [
      'sub',
      'email',
      'email_verified',
    ]);
    assert.deepEqual(releasedClaims(ada, { scopes: ['openid'], claims: ['name'] }), { sub: 'usr_1', name: 'Ada' });
    // Unknown scopes, session claims and names that are not claims of a person release nothing.
    const odd = releasedClaims(ada, { scopes: ['address', 'read:users', 'toString'], claims: ['amr', '__proto__'] });
    assert.deepEqual(odd, { sub: 'usr_1' });
  });
});

describe('acr from the sign-in methods', () => {
  it('is 1 for one kind of factor and 2 for a password with a code, or a passkey', () => {
    assert.equal(acrOf(['pwd']), '1');
    assert.equal(acrOf(['otp']), '1');
    // Passkeys are accepted only with user verification: the device and its PIN or biometric.
    assert.equal(acrOf(['hwk']), '2');
    assert.equal(acrOf(['pwd', 'otp']), '2');
    assert.deepEqual(signedIn('usr_1', ['pwd', 'otp']), { accountId: 'usr_1', amr: ['pwd', 'otp'], acr: '2' });
  });
});
