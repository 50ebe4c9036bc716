import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { JWK } from 'oidc-provider';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { cliDatabaseEnv } from '../../test/support/database.ts';
import { runCli } from '../../test/support/process.ts';
import { rotateJwks } from './keys.ts';
import { request, worldOn, credentialServerEnv } from '../../test/support/world.ts';

// Signing key rotation (`latchkey keys rotate-signing`): new keys first (they sign new tokens),
// retired keys stay published at /oauth/jwks until every token they signed has expired.

const HOUR = 3_600_000;

describe('rotateJwks', () => {
  const fake = (kid: string, alg = 'RS256') => ({ kid, alg, kty: alg === 'RS256' ? 'RSA' : 'EC', use: 'sig' }) as JWK;

  it('puts new RS256 and ES256 keys first and retires the keys that signed until now', () => {
    const now = Date.UTC(2026, 0, 1);
    const r = rotateJwks({ keys: [fake('a'), fake('b', 'ES256')] }, now, HOUR);
    assert.deepEqual(
      r.stored.keys.slice(0, 2).map((k) => k.alg),
      ['RS256', 'ES256'],
    );
    assert.equal(r.stored.keys[0]!.kid, r.kid);
    assert.ok(r.stored.keys[0]!['d'], 'a private key (the server signs with it)');
    assert.deepEqual(
      r.stored.keys.slice(2).map((k) => k.kid),
      ['a', 'b'],
    );
    assert.deepEqual(r.stored.retired, { a: now, b: now });
    assert.deepEqual(
      r.retired.map((k) => k.kid),
      ['a', 'b'],
    );
    assert.deepEqual(r.dropped, []);
  });

  it('keeps a retired key while tokens it signed may live, then drops it', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const first = rotateJwks({ keys: [fake('a')] }, t0, HOUR);
    const soon = rotateJwks(first.stored, t0 + HOUR, HOUR);
    assert.ok(
      soon.stored.keys.some((k) => k.kid === 'a'),
      'retired exactly one lifetime ago: kept',
    );
    assert.equal(soon.stored.retired!['a'], t0, 'the retirement time is not moved by later rotations');
    const later = rotateJwks(soon.stored, t0 + HOUR + 1, HOUR);
    assert.deepEqual(later.dropped, ['a']);
    assert.ok(!later.stored.keys.some((k) => k.kid === 'a'));
    assert.equal(later.stored.retired!['a'], undefined);
    // Newest first; the keys of the first two rotations (retired an instant ago) stay published.
    const kids = (r: typeof first) => r.added.map((k) => k.kid);
    assert.deepEqual(
      later.stored.keys.map((k) => k.kid),
      [...kids(later), ...kids(soon), ...kids(first)],
    );
  });
});

// The server restarts on the same port: a kept-alive connection to the old process could be
// picked from the pool and found closed. One connection per request.
const ONE_SHOT = { Connection: 'close' };

describe('latchkey keys rotate-signing', () => {
  let server: TestServer;
  let app: { client_id: string; client_secret?: string };
  const clientCredentials = async () => {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...ONE_SHOT },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.client_id,
        client_secret: app.client_secret!,
        scope: 'read:users',
      }).toString(),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const jwks = async () =>
    (await (await fetch(`${server.url}/oauth/jwks`, { headers: ONE_SHOT })).json()) as JSONWebKeySet;

  before(async () => {
    server = await startTestServer({ env: { ...credentialServerEnv, ACCESS_TOKEN_FORMAT: 'jwt' } });
    const make = worldOn(server);
    const owner = await make.user({ tag: 'rotation' });
    app = (await make.serviceToken(owner, ['read:users'])).app;
  });
  after(() => server.dispose());

  it('signs new tokens with the new key after a restart; tokens signed before still verify', async () => {
    const oldToken = await clientCredentials();
    const oldKid = decodeProtectedHeader(oldToken).kid!;
    const before = await jwks();
    assert.equal(before.keys.length, 2);

    const r = await runCli(['keys', 'rotate-signing'], { env: cliDatabaseEnv(server.config) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      kid: string;
      added: Array<{ kid: string; alg: string }>;
      retired: Array<{ kid: string; retired_at: string }>;
      dropped: string[];
    };
    assert.notEqual(out.kid, oldKid);
    assert.deepEqual(
      out.added.map((k) => k.alg),
      ['RS256', 'ES256'],
    );
    assert.ok(out.retired.some((k) => k.kid === oldKid));
    assert.ok(!Number.isNaN(Date.parse(out.retired[0]!.retired_at)));
    assert.deepEqual(out.dropped, []);
    // The audit trail names the operator at the command line and the new key.
    const [rotated] = await server.built.services.auditLog.list({ types: ['signing_keys.rotated'] }, { limit: 1 });
    assert.equal(rotated?.actor.type, 'cli');
    assert.equal(rotated?.target?.id, out.kid);

    server = await server.restart();
    const newToken = await clientCredentials();
    assert.equal(decodeProtectedHeader(newToken).kid, out.kid, 'the new key signs');

    const published = await jwks();
    assert.deepEqual(
      published.keys.map((k) => k.kid),
      [...out.added.map((k) => k.kid), ...before.keys.map((k) => k.kid)],
    );
    for (const k of published.keys) assert.equal(k['d'], undefined, 'only public keys are published');
    assert.ok(!JSON.stringify(published).includes('retired'));

    const keySet = createLocalJWKSet(published);
    for (const token of [oldToken, newToken]) {
      const { payload } = await jwtVerify(token, keySet, { issuer: server.config.ISSUER, typ: 'at+jwt' });
      assert.equal(payload.client_id, app.client_id);
    }
    // The server's own /v2 still accepts the token signed with the retired key.
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: oldToken })).status, 200);
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: newToken })).status, 200);
  });
});
