import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import type { TestServer } from '../../test/support/server.ts';
import { authorizeAs, introspect, pkcePair } from '../../test/support/oauth.ts';
import { DpopKey, dpopHeaders } from '../../test/support/dpop.ts';
import { REDIRECT_URI, request, startWorld, type TestUser, type World } from '../../test/support/world.ts';

// DPoP (RFC 9449) end to end over real HTTP: tokens bound to the key of the proof that asked for
// them, a server nonce at the token endpoint, and /v2 and introspection holding the token to the key.

interface App {
  client_id: string;
  client_secret?: string;
}

for (const format of ['opaque', 'jwt'] as const) {
  describe(`DPoP-bound tokens (${format} access tokens)`, () => {
    let server: TestServer;
    let make: World;
    let alice: TestUser;
    let service: App;
    let spa: App;
    let resourceServer: App;
    let tokenUrl: string;
    let apiUrl: string;

    async function register(body: Record<string, unknown>): Promise<App> {
      const res = await alice.browser.postJson('/oauth/applications', body);
      assert.equal(res.status, 201, await res.clone().text());
      return (await res.json()) as App;
    }

    /** A client_credentials token asked for with a proof of `key` (answering the nonce challenge). */
    async function serviceToken(key: DpopKey, app = service): Promise<Record<string, unknown>> {
      const res = await key.post(tokenUrl, {
        grant_type: 'client_credentials',
        client_id: app.client_id,
        client_secret: app.client_secret!,
        scope: 'read:users',
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, JSON.stringify(body));
      return body;
    }

    const callApi = (headers: Record<string, string>, method = 'GET', path = '/v2/auth/test') =>
      request(server, method, path, { headers });

    before(async () => {
      make = await startWorld({ env: { ACCESS_TOKEN_FORMAT: format } });
      server = make.server;
      alice = await make.user({ tag: 'alice' });
      const scopes = ['read:users'];
      service = await register({ name: 'Service', type: 'service', redirect_uris: [], scopes });
      spa = await register({ name: 'SPA', type: 'spa', redirect_uris: [REDIRECT_URI], scopes });
      resourceServer = await register({ name: 'API', type: 'resource_server', redirect_uris: [], scopes: [] });
      tokenUrl = `${server.url}/oauth/token`;
      apiUrl = `${server.config.ISSUER}/v2/auth/test`;
    });
    after(() => server.dispose());

    it('server nonce round trip: a proof without the nonce is answered use_dpop_nonce and the nonce', async () => {
      const key = await DpopKey.create();
      const form = {
        grant_type: 'client_credentials',
        client_id: service.client_id,
        client_secret: service.client_secret!,
      };
      const bare = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', DPoP: await key.proof('POST', tokenUrl) },
        body: new URLSearchParams(form),
      });
      assert.equal(bare.status, 400);
      assert.equal(((await bare.json()) as { error: string }).error, 'use_dpop_nonce');
      const nonce = bare.headers.get('DPoP-Nonce');
      assert.ok(nonce, 'the answer carries a nonce');
      const forged = await fetch(tokenUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          DPoP: await key.proof('POST', tokenUrl, { nonce: `${nonce.slice(0, -2)}xx` }),
        },
        body: new URLSearchParams(form),
      });
      assert.equal(forged.status, 400);
      assert.equal(((await forged.json()) as { error: string }).error, 'use_dpop_nonce');
      const answered = await fetch(tokenUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          DPoP: await key.proof('POST', tokenUrl, { nonce }),
        },
        body: new URLSearchParams(form),
      });
      const body = (await answered.json()) as Record<string, unknown>;
      assert.equal(answered.status, 200, JSON.stringify(body));
      assert.equal(body['token_type'], 'DPoP');
    });

    it('a token asked for with a proof is bound to its key: token_type DPoP, cnf.jkt in introspection', async () => {
      const key = await DpopKey.create();
      const body = await serviceToken(key);
      assert.equal(body['token_type'], 'DPoP');
      const access = String(body['access_token']);
      if (format === 'jwt') assert.deepEqual(decodeJwt(access)['cnf'], { jkt: key.thumbprint });
      for (const as of [resourceServer, service]) {
        const seen = await introspect(server, as as never, access);
        assert.equal(seen['active'], true);
        assert.equal(seen['token_type'], 'DPoP');
        assert.deepEqual(seen['cnf'], { jkt: key.thumbprint });
      }
    });

    it("a registered API's resource server is told the binding too: token_type DPoP, cnf.jkt", async () => {
      const orders = `https://orders-${format}.example.com`;
      const scope = `read:orders-${format}`;
      const api = await alice.browser.postJson('/v2/apis', {
        name: 'Orders',
        identifier: orders,
        scopes: [{ name: scope, description: 'Read orders' }],
      });
      assert.equal(api.status, 201, await api.clone().text());
      const caller = await register({ name: 'Orders client', type: 'service', redirect_uris: [], scopes: [scope] });
      const ordersServer = await register({ name: 'Orders API', type: 'resource_server', scopes: [], api: orders });
      const key = await DpopKey.create();
      const res = await key.post(tokenUrl, {
        grant_type: 'client_credentials',
        client_id: caller.client_id,
        client_secret: caller.client_secret!,
        scope,
        resource: orders,
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body['token_type'], 'DPoP');
      const seen = await introspect(server, ordersServer as never, String(body['access_token']));
      assert.equal(seen['active'], true, JSON.stringify(seen));
      assert.equal(seen['aud'], orders);
      assert.equal(seen['token_type'], 'DPoP');
      assert.deepEqual(seen['cnf'], { jkt: key.thumbprint });
    });

    it('/v2 takes a bound token with a proof of its key, and refuses it as Bearer', async () => {
      const key = await DpopKey.create();
      const access = String((await serviceToken(key))['access_token']);
      const ok = await callApi(await dpopHeaders(key, 'GET', apiUrl, access));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal((ok.body as { client_id?: string })['client_id'] ?? service.client_id, service.client_id);
      const bearer = await request(server, 'GET', '/v2/auth/test', { bearer: access });
      assert.equal(bearer.status, 401);
      assert.equal(
        bearer.headers.get('WWW-Authenticate'),
        `Bearer error="invalid_token", resource_metadata="${server.url}/.well-known/oauth-protected-resource/v2"`,
      );
      const noProof = await callApi({ Authorization: `DPoP ${access}` });
      assert.equal(noProof.status, 401);
      assert.match(noProof.headers.get('WWW-Authenticate') ?? '', /^DPoP error="invalid_dpop_proof", algs=/);
    });

    it('/v2 refuses a proof by another key, a replayed proof, and a wrong htu, htm or ath', async () => {
      const key = await DpopKey.create();
      const access = String((await serviceToken(key))['access_token']);
      const other = await DpopKey.create();
      const metadata = `${server.url}/.well-known/oauth-protected-resource/v2`;
      const refusedAs = async (headers: Record<string, string>, error: string, method = 'GET') => {
        const res = await callApi(headers, method);
        assert.equal(res.status, 401, JSON.stringify(res.body));
        assert.equal(
          res.headers.get('WWW-Authenticate'),
          `DPoP error="${error}", algs="ES256 EdDSA Ed25519", resource_metadata="${metadata}"`,
        );
      };
      await refusedAs(await dpopHeaders(other, 'GET', apiUrl, access), 'invalid_token');
      const once = await dpopHeaders(key, 'GET', apiUrl, access);
      assert.equal((await callApi(once)).status, 200);
      await refusedAs(once, 'invalid_dpop_proof');
      await refusedAs(await dpopHeaders(key, 'GET', `${server.config.ISSUER}/v2/users`, access), 'invalid_dpop_proof');
      await refusedAs(await dpopHeaders(key, 'GET', `http://evil.example/v2/auth/test`, access), 'invalid_dpop_proof');
      await refusedAs(await dpopHeaders(key, 'POST', apiUrl, access), 'invalid_dpop_proof');
      const wrongAth = await dpopHeaders(key, 'GET', apiUrl, `${access}x`);
      await refusedAs({ ...wrongAth, Authorization: `DPoP ${access}` }, 'invalid_dpop_proof');
      const stale = await dpopHeaders(key, 'GET', apiUrl, access, { iat: Math.floor(Date.now() / 1000) - 600 });
      await refusedAs(stale, 'invalid_dpop_proof');
      await refusedAs(await dpopHeaders(key, 'GET', apiUrl, access, { typ: 'JWT' }), 'invalid_dpop_proof');
      // The query is not part of htu (RFC 9449 §4.3); the path is.
      const withQuery = await dpopHeaders(key, 'GET', `${apiUrl}?x=1`, access);
      assert.equal((await request(server, 'GET', '/v2/auth/test?y=2', { headers: withQuery })).status, 200);
    });

    it('a Bearer token presented with the DPoP scheme is refused; Bearer tokens stay Bearer', async () => {
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: service.client_id,
          client_secret: service.client_secret!,
          scope: 'read:users',
        }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body['token_type'], 'Bearer');
      const access = String(body['access_token']);
      assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: access })).status, 200);
      const key = await DpopKey.create();
      const asDpop = await callApi(await dpopHeaders(key, 'GET', apiUrl, access));
      assert.equal(asDpop.status, 401);
      assert.equal((await introspect(server, resourceServer as never, access))['cnf'], undefined);
    });

    it('a public client: code with PKCE and a proof; the refresh token is bound to the same key', async () => {
      const key = await DpopKey.create();
      const pkce = pkcePair();
      const { redirect } = await authorizeAs(server, spa as never, alice, { codeChallenge: pkce.challenge });
      const code = redirect.searchParams.get('code')!;
      const exchanged = await key.post(tokenUrl, {
        grant_type: 'authorization_code',
        client_id: spa.client_id,
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: pkce.verifier,
      });
      const tokens = (await exchanged.json()) as Record<string, string>;
      assert.equal(exchanged.status, 200, JSON.stringify(tokens));
      assert.equal(tokens['token_type'], 'DPoP');
      const refreshForm = {
        grant_type: 'refresh_token',
        client_id: spa.client_id,
        refresh_token: tokens['refresh_token']!,
      };
      // RFC 9449 §5: a public client's refresh token works only with a proof of the same key.
      const bare = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(refreshForm),
      });
      assert.equal(bare.status, 400);
      assert.equal(((await bare.json()) as { error: string }).error, 'invalid_grant');
      const thief = await DpopKey.create();
      const stolen = await thief.post(tokenUrl, refreshForm);
      assert.equal(stolen.status, 400);
      assert.equal(((await stolen.json()) as { error: string }).error, 'invalid_grant');
      const refreshed = await key.post(tokenUrl, refreshForm);
      const next = (await refreshed.json()) as Record<string, string>;
      assert.equal(refreshed.status, 200, JSON.stringify(next));
      assert.equal(next['token_type'], 'DPoP');
      const seen = await introspect(server, resourceServer as never, next['access_token']!);
      assert.deepEqual(seen['cnf'], { jkt: key.thumbprint });
      assert.equal((await callApi(await dpopHeaders(key, 'GET', apiUrl, next['access_token']!))).status, 200);
    });

    it('userinfo takes a bound token with a proof of its key; refused as Bearer or with another key', async () => {
      const key = await DpopKey.create();
      const pkce = pkcePair();
      const { redirect } = await authorizeAs(server, spa as never, alice, {
        scope: 'openid email read:users',
        codeChallenge: pkce.challenge,
      });
      const exchanged = await key.post(tokenUrl, {
        grant_type: 'authorization_code',
        client_id: spa.client_id,
        code: redirect.searchParams.get('code')!,
        redirect_uri: REDIRECT_URI,
        code_verifier: pkce.verifier,
      });
      const access = ((await exchanged.json()) as Record<string, string>)['access_token']!;
      const userinfoUrl = `${server.config.ISSUER}/oauth/userinfo`;
      const ok = await request(server, 'GET', '/oauth/userinfo', {
        headers: await dpopHeaders(key, 'GET', userinfoUrl, access),
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body['email'], alice.email);
      const bearer = await request(server, 'GET', '/oauth/userinfo', { bearer: access });
      assert.equal(bearer.status, 401);
      assert.match(bearer.headers.get('WWW-Authenticate') ?? '', /^Bearer /);
      const other = await request(server, 'GET', '/oauth/userinfo', {
        headers: await dpopHeaders(await DpopKey.create(), 'GET', userinfoUrl, access),
      });
      assert.equal(other.status, 401);
      assert.match(
        other.headers.get('WWW-Authenticate') ?? '',
        /^DPoP .*error="invalid_token".*algs="ES256 EdDSA Ed25519"/,
      );
      const wrongUrl = await request(server, 'GET', '/oauth/userinfo', {
        headers: await dpopHeaders(key, 'GET', apiUrl, access),
      });
      assert.equal(wrongUrl.status, 401);
      assert.match(wrongUrl.headers.get('WWW-Authenticate') ?? '', /^DPoP .*error="invalid_dpop_proof"/);
    });

    it('an application with require_dpop gets no token without a proof, and a bound one with it', async () => {
      const strict = await register({
        name: 'Strict service',
        type: 'service',
        redirect_uris: [],
        scopes: ['read:users'],
        require_dpop: true,
      });
      const res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: strict.client_id,
          client_secret: strict.client_secret!,
        }),
      });
      const body = (await res.json()) as { error: string };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.error, 'invalid_grant');
      const key = await DpopKey.create();
      assert.equal((await serviceToken(key, strict))['token_type'], 'DPoP');
    });
  });
}

describe('DPoP discovery', () => {
  it('advertises the proof algorithms /v2 and the token endpoint both accept', async () => {
    const world = await startWorld();
    try {
      for (const doc of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const meta = (await (await fetch(`${world.url}${doc}`)).json()) as Record<string, unknown>;
        assert.deepEqual(meta['dpop_signing_alg_values_supported'], ['ES256', 'EdDSA', 'Ed25519'], doc);
      }
      const key = await DpopKey.create('EdDSA');
      const app = (await (
        await (
          await world.user({ tag: 'dev' })
        ).browser.postJson('/oauth/applications', {
          name: 'Service',
          type: 'service',
          redirect_uris: [],
          scopes: ['read:users'],
        })
      ).json()) as App;
      const res = await key.post(`${world.url}/oauth/token`, {
        grant_type: 'client_credentials',
        client_id: app.client_id,
        client_secret: app.client_secret!,
      });
      const access = String(((await res.json()) as Record<string, unknown>)['access_token']);
      const headers = await dpopHeaders(key, 'GET', `${world.server.config.ISSUER}/v2/auth/test`, access);
      assert.equal((await request(world.server, 'GET', '/v2/auth/test', { headers })).status, 200);
    } finally {
      await world.close();
    }
  });
});
