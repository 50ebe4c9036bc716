import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Credential } from './credential.ts';
import { toAppError } from '../http/domain-errors.ts';
import { NotFound, NotYours } from './errors.ts';
import { principalFrom, sessionPrincipal } from './principal.ts';

const credential = (over: Partial<Credential> = {}): Credential => ({
  method: 'api_key',
  subject: 'usr_a',
  userId: 'usr_a',
  scopes: ['admin:all', 'read:users'],
  expiresAt: null,
  id: 'key1',
  ...over,
});

describe('Principal: effective scopes are granted ∩ what the account may hold now', () => {
  it('keeps admin:all only while the account is an admin', () => {
    assert.deepEqual(principalFrom(credential(), { isAdmin: true }).scopes, ['admin:all', 'read:users']);
    const demoted = principalFrom(credential(), { isAdmin: false });
    assert.deepEqual(demoted.scopes, ['read:users']);
    assert.deepEqual(demoted.granted, ['admin:all', 'read:users']);
    assert.equal(demoted.isAdmin, false);
    assert.equal(demoted.can('write:users'), false);
    assert.throws(() => demoted.ownedOrAdmin({ owner: 'usr_b' }, (r) => r.owner, 'Thing'), /Insufficient permissions/);
    assert.deepEqual(
      demoted.ownedOrAdmin({ owner: 'usr_a' }, (r) => r.owner, 'Thing'),
      { owner: 'usr_a' },
    );
  });

  it('holds nothing and acts for no account once the account is gone', () => {
    const gone = principalFrom(credential({ method: 'jwt' }), null);
    assert.deepEqual(gone.scopes, []);
    assert.equal(gone.accountId, null);
    assert.throws(() => gone.requireAccount(), /not bound to a Latchkey account/);
  });

  it("a JWT naming no account keeps its signer's scopes but reaches no account", () => {
    const service = principalFrom(
      credential({ method: 'jwt', subject: 'user_123', userId: null, scopes: ['read:users'] }),
      undefined,
    );
    assert.deepEqual(service.scopes, ['read:users']);
    assert.equal(service.accountId, null);
  });

  it('a client_credentials token is a client principal, shown as oauth, acting for the owner', () => {
    const client = principalFrom(
      credential({ method: 'oauth', subject: 'app_x', clientId: 'app_x', userId: 'usr_owner', scopes: ['admin:all'] }),
      { isAdmin: false },
    );
    assert.equal(client.kind, 'client');
    assert.equal(client.method, 'oauth');
    assert.equal(client.accountId, 'usr_owner');
    assert.deepEqual(client.scopes, []);
  });

  it("a session holds its account's rights; lacking() names what it does not hold", () => {
    const user = sessionPrincipal({ id: 'usr_a', isAdmin: false });
    assert.deepEqual(user.lacking(['read:users', 'admin:all']), ['admin:all']);
    assert.deepEqual(sessionPrincipal({ id: 'usr_b', isAdmin: true }).lacking(['admin:all', 'write:users']), []);
  });

  it(
    "another's resource and a missing one are the same 403 without admin:all; admin:all gets the other's, or " + '404',
    () => {
      const owner = (r: { owner: string }) => r.owner;
      const alice = sessionPrincipal({ id: 'usr_a', isAdmin: false });
      const refusals = [
        () => alice.ownedOrAdmin({ owner: 'usr_b' }, owner, 'Thing'),
        () => alice.ownedOrAdmin(undefined, owner, 'Thing'),
      ];
      for (const refused of refusals) {
        assert.throws(
          refused,
          (e: unknown) =>
            e instanceof NotYours &&
            toAppError(e)?.status === 403 &&
            JSON.stringify(toAppError(e)?.toBody()) ===
              JSON.stringify({ error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' } }),
        );
      }
      const unbound = principalFrom(
        credential({ method: 'jwt', subject: 'svc', userId: null, scopes: ['read:users'] }),
        undefined,
      );
      assert.throws(() => unbound.ownedOrAdmin({ owner: 'usr_b' }, owner, 'Thing'), /Insufficient permissions/);
      const admin = sessionPrincipal({ id: 'usr_admin', isAdmin: true });
      assert.deepEqual(admin.ownedOrAdmin({ owner: 'usr_b' }, owner, 'Thing'), { owner: 'usr_b' });
      assert.throws(
        () => admin.ownedOrAdmin(undefined, owner, 'Thing'),
        (e: unknown) => e instanceof NotFound && toAppError(e)?.status === 404 && e.message === 'Thing not found',
      );
    },
  );
});
