import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import pino from 'pino';
import type { JWK } from 'oidc-provider';
import { BACKCHANNEL_LOGOUT_EVENT, createBackchannelLogout, endedSignInOf } from './backchannel-logout.ts';

const ISSUER = 'https://id.example';
const T = Date.UTC(2026, 11, 1, 12);

function keyPair(kind: 'rsa' | 'ec', alg: string): { privateJwk: JWK; publicJwk: JWK } {
  const { privateKey, publicKey } =
    kind === 'rsa'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = crypto.randomUUID();
  return {
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
  };
}

/** A sender whose posts are recorded (or fail as `outcome` says). */
function sender(signingKey: JWK, outcome: { ok: boolean; error: string | null } = { ok: true, error: null }) {
  const posts: Array<{ url: string; body: string; headers: Record<string, string> }> = [];
  const logout = createBackchannelLogout({
    issuer: ISSUER,
    signingKey,
    logoutUriOf: async (clientId) => (clientId === 'app_rp' ? 'https://rp.example/bc' : undefined),
    post: async (url, body, headers) => {
      posts.push({ url, body, headers });
      return outcome;
    },
    logger: pino({ level: 'silent' }),
    now: () => T,
  });
  return { logout, posts };
}

describe('back-channel logout tokens', () => {
  for (const [kind, alg] of [
    ['rsa', 'RS256'],
    ['ec', 'ES256'],
  ] as const) {
    it(`are signed with the ID token key (${alg}) and carry exactly the logout claims`, async () => {
      const { privateJwk, publicJwk } = keyPair(kind, alg);
      const { logout, posts } = sender(privateJwk);
      await logout.signInsEnded([{ accountId: 'usr_1', authorizations: { app_rp: { sid: 'sid-1' } } }]);
      assert.equal(posts.length, 1);
      assert.equal(posts[0]!.url, 'https://rp.example/bc');
      assert.equal(posts[0]!.headers['content-type'], 'application/x-www-form-urlencoded');
      const token = new URLSearchParams(posts[0]!.body).get('logout_token')!;
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: [publicJwk as never] }), {
        issuer: ISSUER,
        audience: 'app_rp',
        currentDate: new Date(T),
      });
      assert.deepEqual(protectedHeader, { alg, kid: publicJwk.kid, typ: 'logout+jwt' });
      const { jti, ...rest } = payload;
      assert.match(String(jti), /^[0-9a-f-]{36}$/);
      assert.deepEqual(rest, {
        iss: ISSUER,
        aud: 'app_rp',
        iat: T / 1000,
        exp: T / 1000 + 120,
        sub: 'usr_1',
        sid: 'sid-1',
        events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
      });
    });
  }

  it('go only to applications with a back-channel URI, each with a fresh jti', async () => {
    const { logout, posts } = sender(keyPair('rsa', 'RS256').privateJwk);
    await logout.signInsEnded([
      { accountId: 'usr_1', authorizations: { app_rp: { sid: 'a' }, app_other: { sid: 'b' } } },
      { accountId: 'usr_1', authorizations: { app_rp: {} } },
    ]);
    assert.equal(posts.length, 2, 'app_other has no back-channel URI');
    const tokens = posts.map((p) => new URLSearchParams(p.body).get('logout_token')!);
    const claims = tokens.map((t) => JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()));
    assert.notEqual(claims[0].jti, claims[1].jti);
    assert.equal(claims[1].sid, undefined, 'no sid known: sub alone');
  });

  it('never throw when delivery fails', async () => {
    const { logout, posts } = sender(keyPair('rsa', 'RS256').privateJwk, { ok: false, error: 'HTTP 500' });
    await logout.signInsEnded([{ accountId: 'usr_1', authorizations: { app_rp: { sid: 'a' } } }]);
    await logout.send({ clientId: 'app_rp', backchannelLogoutUri: 'https://rp.example/bc' }, 'usr_1');
    assert.equal(posts.length, 2);
  });

  it('read an ended sign-in from a stored session; nothing from one without an account', () => {
    assert.deepEqual(endedSignInOf({ accountId: 'usr_1', authorizations: { app_rp: { sid: 's' } } }), {
      accountId: 'usr_1',
      authorizations: { app_rp: { sid: 's' } },
    });
    assert.deepEqual(endedSignInOf({ accountId: 'usr_1' }), { accountId: 'usr_1', authorizations: {} });
    assert.equal(endedSignInOf({ authorizations: {} }), null);
    assert.equal(endedSignInOf(undefined), null);
  });
});
