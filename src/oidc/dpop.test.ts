import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import type { TestServer } from '../../test/support/server.ts';
import { registerApp } from '../../test/support/http.ts';
import { introspect } from '../../test/support/oauth.ts';
import { request, startWorld, type World, type TestUser } from '../../test/support/world.ts';

// /v2 and introspection do not check DPoP proofs (RFC 9449) yet, so Latchkey must neither
// advertise DPoP nor bind tokens to a key: a bound token that /v2 then took as a plain Bearer
// token would promise a sender constraint nobody enforces.

/** A fresh key and a proof for POST <url>, as a DPoP client would send it. */
async function dpopProof(url: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const proof = await new SignJWT({ htm: 'POST', htu: url, jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .sign(privateKey);
  return { proof, thumbprint: await calculateJwkThumbprint(jwk) };
}

for (const format of ['opaque', 'jwt'] as const) {
  describe(`DPoP is not offered (${format} access tokens)`, () => {
    let server: TestServer;
    let make: World;
    let alice: TestUser;
    let app: { client_id: string; client_secret?: string };

    before(async () => {
      make = await startWorld({ env: { ACCESS_TOKEN_FORMAT: format } });
      server = make.server;
      alice = await make.user({ tag: 'alice' });
      app = await registerApp(alice.browser, {
        name: 'Service',
        type: 'service',
        redirect_uris: [],
        scopes: ['read:users'],
      });
    });
    after(() => server.dispose());

    it('discovery does not advertise dpop_signing_alg_values_supported', async () => {
      for (const doc of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const meta = (await (await fetch(`${server.url}${doc}`)).json()) as Record<string, unknown>;
        assert.ok(meta['token_endpoint'], doc);
        assert.equal(meta['dpop_signing_alg_values_supported'], undefined, doc);
      }
    });

    it('a token request with a DPoP proof gets a plain Bearer token, not bound to the key', async () => {
      const { proof } = await dpopProof(`${server.url}/oauth/token`);
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: proof },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: app.client_id,
          client_secret: app.client_secret!,
          scope: 'read:users',
        }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body['token_type'], 'Bearer');
      const access = String(body['access_token']);
      const seen = await introspect(server, app, access);
      assert.equal(seen['active'], true);
      assert.equal(seen['cnf'], undefined, 'no confirmation key');
      assert.equal(seen['token_type'], 'Bearer');
      assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: access })).status, 200);
    });

    it('/v2 refuses a key-bound token presented as Bearer (RFC 9449 §7.2)', async () => {
      // oidc-provider's own model mints a token bound to a key, as it would with DPoP enabled.
      const { provider } = server.built;
      const client = await provider.Client.find(app.client_id);
      const bound = new provider.ClientCredentials({ client: client!, scope: 'read:users' });
      const apiResource = server.config.API_RESOURCE;
      bound.resourceServer = new provider.ResourceServer(apiResource, {
        audience: apiResource,
        scope: 'read:users',
        accessTokenTTL: 3600,
        accessTokenFormat: format,
        ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
      } as never);
      bound.setThumbprint('jkt', (await dpopProof(`${server.url}/v2/auth/test`)).thumbprint);
      const value = await bound.save();
      const res = await request(server, 'GET', '/v2/auth/test', { bearer: value });
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.deepEqual(res.body, {
        error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
      });
    });
  });
}
