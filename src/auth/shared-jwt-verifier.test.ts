import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { createSharedJwtVerifier } from './shared-jwt.ts';

// The shared-secret JWT rules, in process on a clock the test moves: expiry, the iat leeway, the
// lifetime cap, the algorithm, the issuer and the scope shapes.
const SECRET = 'unit-test-secret-0123456789abcdef-0123456789';
const ISSUER = 'api.example.com';
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const S0 = T0 / 1000;

function verifierAt(start = T0, maxLifetime = 3600) {
  let t = start;
  const verifier = createSharedJwtVerifier({ secret: SECRET, issuer: ISSUER, maxLifetime, now: () => t });
  return { verifier, advance: (ms: number) => (t += ms) };
}
const sign = (payload: Record<string, unknown>, opts: jwt.SignOptions = {}, secret = SECRET) =>
  jwt.sign(payload, secret, { algorithm: 'HS256', issuer: ISSUER, ...opts });

describe('shared-secret JWT verification (pure, fake clock)', () => {
  it('accepts a token until exp (with 5 s of tolerance), then refuses it', () => {
    const { verifier, advance } = verifierAt();
    const token = sign({ sub: 'svc', scopes: ['read:users'], iat: S0, exp: S0 + 600 });
    const credential = verifier.verify(token);
    assert.deepEqual(
      { method: credential?.method, subject: credential?.subject, scopes: credential?.scopes },
      { method: 'jwt', subject: 'svc', scopes: ['read:users'] },
    );
    assert.equal(credential?.expiresAt, (S0 + 600) * 1000);
    advance(600_000 + 4_000);
    assert.ok(verifier.verify(token), 'within the tolerance');
    advance(2_000);
    assert.equal(verifier.verify(token), null, 'expired');
  });

  it('lets iat run ahead of our clock by 60 s at most', () => {
    const { verifier } = verifierAt();
    assert.ok(verifier.verify(sign({ sub: 's', iat: S0 + 60, exp: S0 + 600 })));
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0 + 61, exp: S0 + 600 })), null);
  });

  it('caps the lifetime, from iat and from now', () => {
    const { verifier } = verifierAt(T0, 3600);
    assert.ok(verifier.verify(sign({ sub: 's', iat: S0, exp: S0 + 3600 })));
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0, exp: S0 + 3601 })), null, 'exp - iat');
    assert.ok(verifier.verify(sign({ sub: 's', iat: S0 + 30, exp: S0 + 3600 })));
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0 + 30, exp: S0 + 3601 })), null, 'exp - now');
    assert.equal(verifier.verify(sign({ sub: 's', exp: S0 + 3601 }, { noTimestamp: true })), null, 'no iat');
  });

  it('requires exp and a non-empty sub, HS256, our issuer and our secret', () => {
    const { verifier } = verifierAt();
    const exp = S0 + 60;
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0 }, { noTimestamp: false })), null, 'no exp');
    assert.equal(verifier.verify(sign({ sub: '', iat: S0, exp })), null, 'empty sub');
    assert.equal(verifier.verify(sign({ iat: S0, exp })), null, 'no sub');
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0, exp }, { algorithm: 'HS512' })), null, 'HS512');
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0, exp }, { issuer: 'other' })), null, 'issuer');
    assert.equal(verifier.verify(sign({ sub: 's', iat: S0, exp }, {}, `${SECRET}x`)), null, 'secret');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 's', iss: ISSUER, iat: S0, exp }),
    ).toString('base64url')}.`;
    assert.equal(verifier.verify(none), null, 'alg none');
    assert.equal(verifier.verify('not a jwt'), null);
  });

  it('reads scopes from a `scopes` array or a `scope` string, and refuses other shapes', () => {
    const { verifier } = verifierAt();
    const at = { iat: S0, exp: S0 + 60 };
    assert.deepEqual(verifier.verify(sign({ sub: 's', scopes: ['a', 'b'], ...at }))?.scopes, ['a', 'b']);
    assert.deepEqual(verifier.verify(sign({ sub: 's', scope: 'a  b', ...at }))?.scopes, ['a', 'b']);
    assert.deepEqual(verifier.verify(sign({ sub: 's', ...at }))?.scopes, []);
    assert.equal(verifier.verify(sign({ sub: 's', scopes: ['a', 1], ...at })), null);
    assert.equal(verifier.verify(sign({ sub: 's', scopes: 'a', ...at })), null);
    assert.equal(verifier.verify(sign({ sub: 's', scope: ['a'], ...at })), null);
  });

  it('ties a usr_ subject to that account, and any other subject to none', () => {
    const { verifier } = verifierAt();
    const at = { iat: S0, exp: S0 + 60 };
    assert.equal(verifier.verify(sign({ sub: 'usr_abc', ...at }))?.userId, 'usr_abc');
    assert.equal(verifier.verify(sign({ sub: 'billing-service', ...at }))?.userId, null);
    assert.equal(verifier.verify(sign({ sub: 's', jti: 'one', ...at }))?.id, 'one');
  });

  it('signs tokens it then accepts (the CLI path), on its own clock for exp', () => {
    const { verifier } = verifierAt(Date.now());
    const token = verifier.sign({ sub: 'cli', scopes: ['read:users'] }, 300);
    assert.deepEqual(verifier.verify(token)?.scopes, ['read:users']);
  });
});
