import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../../test/support/server.ts';
import { registerApp } from '../../test/support/http.ts';
import { startWorld, type World, type TestUser, request } from '../../test/support/world.ts';

// One introspection for every credential: POST /oauth/introspect answers
// for API keys, shared-secret JWTs and OAuth access tokens, with RFC 7662 fields plus `method`.

interface Client {
  client_id: string;
  client_secret?: string;
}

type Body = 'form' | 'json';
type Auth = 'basic' | 'post' | 'none' | 'wrong-secret';

/** The secret with its last character changed (to a different one, whatever it was). */
const wrongSecret = (secret: string) => `${secret.slice(0, -1)}${secret.endsWith('x') ? 'y' : 'x'}`;

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('POST /oauth/introspect: one introspection for API keys, JWTs and OAuth tokens', () => {
  let server: TestServer;
  let make: World;
  let alice: TestUser;
  let resourceServer: Client;
  let webApp: Client;

  /** Introspects `token` as `client`, with a form or JSON body and the given client authentication. */
  async function introspect(client: Client, token: string, o: { body?: Body; auth?: Auth } = {}) {
    const body = o.body ?? 'form';
    const auth = o.auth ?? 'basic';
    const fields: Record<string, string> = { token };
    const headers: Record<string, string> = {};
    if (auth === 'basic') headers['Authorization'] = basic(client.client_id, client.client_secret!);
    if (auth === 'wrong-secret') headers['Authorization'] = basic(client.client_id, wrongSecret(client.client_secret!));
    if (auth === 'post') Object.assign(fields, { client_id: client.client_id, client_secret: client.client_secret! });
    const res = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: {
        ...headers,
        'Content-Type': body === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      },
      body: body === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
  }

  before(async () => {
    make = await startWorld();
    server = make.server;
    alice = await make.user({ tag: 'alice' });
    const dev = await make.user({ tag: 'dev' });
    resourceServer = await registerApp(dev.browser, {
      name: 'Orders API',
      type: 'resource_server',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    webApp = await registerApp(dev.browser, {
      name: 'Some web app',
      redirect_uris: ['https://client.example/callback'],
      scopes: ['read:users'],
    });
  });
  after(() => server.dispose());

  for (const body of ['form', 'json'] as const) {
    describe(`${body} body`, () => {
      it(
        'a resource server learns about an API key: active, method api_key, sub, scope, exp, ' + 'allowed_ips',
        async () => {
          const expiresAt = new Date(Date.now() + 86_400_000);
          const k = await make.apiKey(alice, ['read:users', 'read:projects'], {
            expiresAt,
            allowedIps: ['10.1.0.0/16'],
          });
          const res = await introspect(resourceServer, k.key, { body });
          assert.equal(res.status, 200, JSON.stringify(res.body));
          assert.equal(res.headers.get('cache-control'), 'no-store');
          assert.equal(res.body['active'], true);
          assert.equal(res.body['method'], 'api_key');
          assert.equal(res.body['sub'], alice.id);
          assert.equal(res.body['scope'], 'read:users read:projects');
          assert.equal(res.body['exp'], Math.floor(expiresAt.getTime() / 1000));
          assert.deepEqual(res.body['allowed_ips'], ['10.1.0.0/16']);
        },
      );

      it('a resource server learns about a shared-secret JWT: active, method jwt', async () => {
        const token = make.jwt({ sub: 'user_123', name: 'John Doe', scopes: ['read:all', 'write:own'] });
        const res = await introspect(resourceServer, token, { body });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body['active'], true);
        assert.equal(res.body['method'], 'jwt');
        assert.equal(res.body['sub'], 'user_123');
        assert.equal(res.body['scope'], 'read:all write:own');
        assert.equal(typeof res.body['exp'], 'number');
      });

      it('a resource server learns about an opaque OAuth access token: active, method oauth', async () => {
        const { access_token, app } = await make.oauthToken(alice, ['read:users']);
        const res = await introspect(resourceServer, access_token, { body });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body['active'], true);
        assert.equal(res.body['method'], 'oauth');
        assert.equal(res.body['sub'], alice.id);
        assert.equal(res.body['client_id'], app.client_id);
        assert.match(String(res.body['scope']), /\bread:users\b/);
        assert.equal(typeof res.body['exp'], 'number');
      });

      it('an ordinary web app gets {active:false} for API keys and JWTs', async () => {
        const { key } = await make.apiKey(alice, ['read:users']);
        assert.deepEqual((await introspect(webApp, key, { body })).body, { active: false });
        const token = make.jwt({ sub: 'user_123', scopes: ['read:users'] });
        assert.deepEqual((await introspect(webApp, token, { body })).body, { active: false });
      });
    });
  }

  it('an application learns about its own opaque token (method oauth), not about another application’s', async () => {
    const { access_token, app } = await make.oauthToken(alice, ['read:users']);
    const own = await introspect(app as Client, access_token);
    assert.equal(own.status, 200);
    assert.equal(own.body['active'], true);
    assert.equal(own.body['method'], 'oauth');
    assert.deepEqual((await introspect(webApp, access_token)).body, { active: false });
  });

  it('client_secret_post authentication works as well as Basic', async () => {
    const { key } = await make.apiKey(alice, ['read:users']);
    for (const body of ['form', 'json'] as const) {
      const res = await introspect(resourceServer, key, { body, auth: 'post' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body['active'], true);
      assert.equal(res.body['method'], 'api_key');
    }
  });

  it('a revoked API key is {active:false}', async () => {
    const k = await make.apiKey(alice, ['read:users']);
    assert.equal((await introspect(resourceServer, k.key)).body['active'], true);
    const res = await request(alice.browser, 'POST', `/v2/api-keys/${k.id}/revoke`, { body: {} });
    assert.equal(res.status, 200);
    for (const body of ['form', 'json'] as const) {
      assert.deepEqual((await introspect(resourceServer, k.key, { body })).body, { active: false });
    }
  });

  it(
    'inactive credentials are {active:false}: expired JWT, wrong-secret JWT, mistyped key, unknown opaque ' + 'token',
    async () => {
      const { key } = await make.apiKey(alice, ['read:users']);
      const tokens = [
        make.jwt({ sub: 'user_123', scopes: ['read:users'] }, { expiresIn: -60 }),
        make.jwt(
          { sub: 'user_123', scopes: ['read:users'] },
          { secret: 'another-secret-of-sufficient-length-0123456789' },
        ),
        `${key.slice(0, 20)}${key[20] === 'a' ? 'b' : 'a'}${key.slice(21)}`,
        'bm90LWEtcmVhbC10b2tlbg',
      ];
      for (const t of tokens) {
        const res = await introspect(resourceServer, t);
        assert.equal(res.status, 200, `${t}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body, { active: false }, t);
      }
    },
  );

  describe('client authentication is required: 401 invalid_client', () => {
    const kinds = ['api key', 'jwt', 'opaque'] as const;
    let tokens: Record<(typeof kinds)[number], string>;

    before(async () => {
      tokens = {
        'api key': (await make.apiKey(alice, ['read:users'])).key,
        jwt: make.jwt({ sub: 'user_123', scopes: ['read:users'] }),
        opaque: (await make.oauthToken(alice, ['read:users'])).access_token,
      };
    });

    for (const kind of kinds) {
      for (const auth of ['none', 'wrong-secret'] as const) {
        for (const body of ['form', 'json'] as const) {
          const how = auth === 'none' ? 'no client authentication' : 'wrong client secret';
          it(`${kind}, ${how}, ${body} body`, async () => {
            const res = await introspect(resourceServer, tokens[kind], { body, auth });
            assert.equal(res.status, 401, JSON.stringify(res.body));
            assert.equal(res.body['error'], 'invalid_client');
            assert.equal(res.body['active'], undefined);
            assert.equal(res.body['method'], undefined);
            assert.equal(res.body['sub'], undefined);
          });
        }
      }
    }

    it('an unknown client id is 401 invalid_client', async () => {
      const res = await introspect(
        { client_id: 'no-such-client', client_secret: resourceServer.client_secret! },
        tokens['api key'],
      );
      assert.equal(res.status, 401);
      assert.equal(res.body['error'], 'invalid_client');
    });
  });
});
