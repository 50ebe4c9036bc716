import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  SignJWT,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import type { TestServer } from '../../test/support/server.ts';
import { registerApp } from '../../test/support/http.ts';
import { request, startWorld, type World, type TestUser } from '../../test/support/world.ts';

// ACCESS_TOKEN_FORMAT=jwt: OAuth access tokens are RFC 9068 JWTs that a
// resource server can verify offline with /oauth/jwks; /v2 and the unified introspection accept them.

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describe('RFC 9068 JWT access tokens (ACCESS_TOKEN_FORMAT=jwt)', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let resourceServer: { client_id: string; client_secret?: string };
  let accessToken: string;
  let clientId: string;

  const introspect = (as: { client_id: string; client_secret?: string }, token: string) =>
    request(server, 'POST', '/oauth/introspect', {
      body: { token },
      headers: { Authorization: basic(as.client_id, as.client_secret!) },
    });

  before(async () => {
    make = await startWorld({ env: { ACCESS_TOKEN_FORMAT: 'jwt' } });
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    const dev = await make.user({ tag: 'dev' });
    resourceServer = await registerApp(dev.browser, {
      name: 'Orders API',
      type: 'resource_server',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    const issued = await make.oauthToken(alice, ['read:users', 'write:projects']);
    accessToken = issued.access_token;
    clientId = issued.app.client_id;
  });
  after(() => server.dispose());

  it('the browser flow issues a JWT with header typ at+jwt', () => {
    assert.equal(accessToken.split('.').length, 3, 'a compact JWS');
    const header = decodeProtectedHeader(accessToken);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    assert.equal(typeof header.kid, 'string');
  });

  it('verifies offline with jose against GET /oauth/jwks (issuer = ISSUER, audience = API_RESOURCE)', async () => {
    const JWKS = createRemoteJWKSet(new URL(`${server.url}/oauth/jwks`));
    const { payload, protectedHeader } = await jwtVerify(accessToken, JWKS, {
      issuer: server.config.ISSUER,
      audience: server.config.API_RESOURCE,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, alice.id);
    assert.equal(payload['client_id'], clientId);
    assert.deepEqual(String(payload['scope']).split(' ').sort(), ['read:users', 'write:projects']);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof payload.iat, 'number');
    assert.ok(payload.exp! > Math.floor(Date.now() / 1000));

    // The same with fetch + createLocalJWKSet; the published set holds public keys only.
    const res = await fetch(`${server.url}/oauth/jwks`);
    assert.equal(res.status, 200);
    const jwks = (await res.json()) as JSONWebKeySet;
    assert.ok(jwks.keys.length > 0);
    for (const k of jwks.keys) assert.equal((k as { d?: string }).d, undefined, 'no private key material');
    const local = await jwtVerify(accessToken, createLocalJWKSet(jwks), {
      issuer: server.config.ISSUER,
      audience: server.config.API_RESOURCE,
    });
    assert.equal(local.payload.sub, alice.id);

    // A wrong audience or issuer does not verify.
    await assert.rejects(
      jwtVerify(accessToken, JWKS, { issuer: server.config.ISSUER, audience: 'https://other.example/api' }),
    );
    await assert.rejects(
      jwtVerify(accessToken, JWKS, { issuer: 'https://evil.example', audience: server.config.API_RESOURCE }),
    );
  });

  it('/v2/auth/test accepts it (method oauth)', async () => {
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: accessToken });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body!['valid'], true);
    assert.equal(res.body!['method'], 'oauth');
    assert.equal(res.body!['subject'], alice.id);
    assert.deepEqual((res.body!['scopes'] as string[]).sort(), ['read:users', 'write:projects']);
    assert.equal(res.body!['expires_at'], new Date(decodeJwt(accessToken).exp! * 1000).toISOString());
  });

  it('it acts on the user’s resources: a project created with it belongs to the user', async () => {
    const res = await request(server, 'POST', '/v2/projects', {
      bearer: accessToken,
      body: { name: 'via JWT access token' },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body!['owner_id'], alice.id);
  });

  it('the unified introspection answers it for a resource_server app (oidc-provider alone would not)', async () => {
    const res = await introspect(resourceServer, accessToken);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body['active'], true);
    assert.equal(res.body['method'], 'oauth');
    assert.equal(res.body['sub'], alice.id);
    assert.equal(res.body['client_id'], clientId);
    assert.deepEqual(String(res.body['scope']).split(' ').sort(), ['read:users', 'write:projects']);
    assert.equal(res.body['exp'], decodeJwt(accessToken).exp);
  });

  it('a client-credentials token is a JWT access token too, accepted by /v2', async () => {
    const owner = await make.user({ tag: 'svc-owner' });
    const { access_token } = await make.serviceToken(owner, ['read:users']);
    assert.equal(decodeProtectedHeader(access_token).typ, 'at+jwt');
    const res = await request(server, 'GET', '/v2/auth/test', { bearer: access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body!['method'], 'oauth');
    assert.deepEqual(res.body!['scopes'], ['read:users']);
  });

  it(
    'refuses forgeries (401 at /v2, inactive at introspection): a tampered payload, a foreign signing ' + 'key',
    async () => {
      const [h, , s] = accessToken.split('.');
      const claims = decodeJwt(accessToken);
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'admin:all' })).toString('base64url');
      const tampered = `${h}.${widened}.${s}`;

      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const foreign = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(accessToken).kid! })
        .sign(privateKey);

      for (const [why, token] of [
        ['tampered', tampered],
        ['foreign key', foreign],
      ] as const) {
        const res = await request(server, 'GET', '/v2/auth/test', { bearer: token });
        assert.equal(res.status, 401, `${why}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, {
          error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
        });
        assert.deepEqual((await introspect(resourceServer, token)).body, { active: false }, why);
      }
    },
  );
});
