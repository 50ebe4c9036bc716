import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { answerOf, basicAuth, type RegisteredApp } from '../../test/support/oauth.ts';
import { credentialServerEnv, request, startWorld, type TestUser, type TestWorld } from '../../test/support/world.ts';

// Introspection of an access token is answered by Latchkey itself when the request is a plain one
// (provider-introspection.ts), and by oidc-provider otherwise: when the request hints at a refresh
// token, carries an Origin, repeats a parameter, authenticates twice ... Both must give the very
// same answer (status, headers, body byte for byte), for every kind of token and every way one
// stops being active. A `token_type_hint` of refresh_token sends the request the provider's way
// and, per RFC 7662 §2.1, changes nothing in the answer: each case asks both ways and compares.

type Body = 'form' | 'json';
type Auth = 'basic' | 'post';

describe('introspection answered without oidc-provider is its answer', () => {
  let world: TestWorld;
  let alice: TestUser;
  let admin: TestUser;
  let adminKey: string;
  let resourceServer: RegisteredApp;

  /** POST /oauth/introspect as `as`, with `fields` beside the token, in a form or JSON body. */
  async function post(
    as: RegisteredApp,
    token: string,
    o: { body?: Body; auth?: Auth; fields?: Record<string, string>; headers?: Record<string, string> } = {},
  ) {
    const fields: Record<string, string> = { token, ...o.fields };
    const headers: Record<string, string> = { ...o.headers };
    if ((o.auth ?? 'basic') === 'basic') headers['Authorization'] = basicAuth(as);
    else Object.assign(fields, { client_id: as.client_id, client_secret: as.client_secret! });
    const json = o.body === 'json';
    headers['Content-Type'] = json ? 'application/json' : 'application/x-www-form-urlencoded';
    const body = json ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
    return request(world.server, 'POST', '/oauth/introspect', { body, headers });
  }

  /** The answer to a plain request, after checking it is the one oidc-provider gives to the same request. */
  async function introspected(as: RegisteredApp, token: string, o: Parameters<typeof post>[2] = {}) {
    const plain = await post(as, token, o);
    const fields = { ...o.fields, token_type_hint: 'refresh_token' };
    const asProvider = await post(as, token, { ...o, fields });
    assert.deepEqual(await answerOf(plain), await answerOf(asProvider), 'the same answer both ways');
    return { status: plain.status, body: plain.body };
  }

  before(async () => {
    world = await startWorld({ env: credentialServerEnv });
    alice = await world.user({ tag: 'alice' });
    admin = await world.user({ admin: true, tag: 'admin' });
    adminKey = (await world.apiKey(admin, ['admin:all'])).key;
    resourceServer = await world.app(undefined, { type: 'resource_server', scopes: [] });
  });
  after(() => world.close());

  describe('every way a request can be made', () => {
    let service: { access_token: string; app: RegisteredApp };
    before(async () => {
      service = await world.serviceToken(alice, ['read:users']);
    });

    for (const body of ['form', 'json'] as const) {
      for (const auth of ['basic', 'post'] as const) {
        it(`${body} body, ${auth} client authentication`, async () => {
          for (const as of [resourceServer, service.app]) {
            const seen = await introspected(as, service.access_token, { body, auth });
            assert.equal(seen.status, 200);
            assert.equal(seen.body['active'], true);
            assert.equal(seen.body['method'], 'oauth');
            assert.equal(seen.body['client_id'], service.app.client_id);
            assert.equal(seen.body['token_type'], 'Bearer');
          }
        });
      }
    }

    it('with another hint, or parameters introspection does not read', async () => {
      const variants: Record<string, string>[] = [
        { token_type_hint: 'access_token' },
        { token_type_hint: 'urn:ietf:params:oauth:token-type:access_token' },
        { token_type_hint: 'no_such_type' },
        { resource: 'https://elsewhere.example', scope: 'admin:all' },
      ];
      for (const fields of variants) {
        const seen = await introspected(resourceServer, service.access_token, { fields });
        assert.equal(seen.body['active'], true, JSON.stringify(fields));
      }
    });

    it('what oidc-provider refuses is refused in its words', async () => {
      const refused = [
        // A repeated parameter.
        await request(world.server, 'POST', '/oauth/introspect', {
          body: `token=${service.access_token}&token=${service.access_token}`,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(resourceServer) },
        }),
        // Two client authentication mechanisms at once.
        await post(resourceServer, service.access_token, { fields: { client_secret: resourceServer.client_secret! } }),
        // No token.
        await post(resourceServer, ''),
      ];
      for (const res of refused) {
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body['error'], 'invalid_request');
      }
    });

    it('a CORS request is left to oidc-provider, which checks the origin against the client', async () => {
      const res = await post(resourceServer, service.access_token, { headers: { Origin: 'https://evil.example' } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body['error'], 'invalid_request');
    });
  });

  describe('every kind of token', () => {
    it("a person's access token: its application and a resource server learn of it, no one else", async () => {
      const person = await world.oauthToken(alice, ['read:users']);
      for (const as of [resourceServer, person.app]) {
        const seen = await introspected(as, person.access_token);
        assert.equal(seen.body['active'], true);
        assert.equal(seen.body['sub'], alice.id);
        assert.equal(seen.body['client_id'], person.app.client_id);
      }
      const stranger = await world.app(undefined, { scopes: ['read:users'] });
      assert.deepEqual((await introspected(stranger, person.access_token)).body, { active: false });
    });

    it('its refresh token, and a token nobody issued', async () => {
      const person = await world.oauthToken(alice, ['read:users']);
      assert.equal((await introspected(resourceServer, person.refresh_token)).body['active'], true);
      assert.deepEqual((await introspected(resourceServer, 'bm90LWEtcmVhbC10b2tlbg')).body, { active: false });
    });

    it("a demoted admin's tokens: the grant with admin:all is revoked, the service's token holds nothing", async () => {
      const boss = await world.user({ admin: true, tag: 'boss' });
      const person = await world.oauthToken(boss, ['admin:all']);
      const service = await world.serviceToken(boss, ['admin:all']);
      for (const token of [person.access_token, service.access_token]) {
        assert.equal((await introspected(resourceServer, token)).body['scope'], 'admin:all');
      }
      const demoted = await request(world.server, 'PATCH', `/v2/users/${boss.id}`, {
        bearer: adminKey,
        body: { is_admin: false },
      });
      assert.equal(demoted.status, 200, JSON.stringify(demoted.body));
      assert.deepEqual((await introspected(resourceServer, person.access_token)).body, { active: false });
      const seen = (await introspected(resourceServer, service.access_token)).body;
      assert.equal(seen['active'], true);
      assert.equal(seen['scope'], undefined);
    });
  });

  describe('every way an access token stops being active', () => {
    /** A person's access token and a client-credentials token, both active to begin with. */
    async function activeTokens(owner: TestUser) {
      const person = await world.oauthToken(owner, ['read:users']);
      const service = await world.serviceToken(owner, ['read:users']);
      for (const token of [person.access_token, service.access_token]) {
        assert.equal((await introspected(resourceServer, token)).body['active'], true);
      }
      return { person, service };
    }

    async function inactive(...tokens: string[]) {
      for (const token of tokens) {
        assert.deepEqual((await introspected(resourceServer, token)).body, { active: false });
      }
    }

    it('revoked (RFC 7009)', async () => {
      const { person, service } = await activeTokens(alice);
      for (const { app, access_token } of [person, service]) {
        const res = await request(world.server, 'POST', '/oauth/revoke', {
          body: new URLSearchParams({ token: access_token }).toString(),
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(app) },
        });
        assert.equal(res.status, 200);
      }
      await inactive(person.access_token, service.access_token);
    });

    it('its consent revoked by the person', async () => {
      const bob = await world.user({ tag: 'bob' });
      const { person } = await activeTokens(bob);
      const res = await bob.browser.request(`/v2/consents/${person.app.client_id}`, { method: 'DELETE' });
      assert.ok(res.status === 200 || res.status === 204, `consent revocation answered ${res.status}`);
      await inactive(person.access_token, person.refresh_token);
    });

    it('its account disabled', async () => {
      const carol = await world.user({ tag: 'carol' });
      const { person, service } = await activeTokens(carol);
      const res = await request(world.server, 'POST', `/v2/admin/users/${carol.id}/disable`, { bearer: adminKey });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await inactive(person.access_token, service.access_token);
    });

    it('its account deleted', async () => {
      const dave = await world.user({ tag: 'dave' });
      const { person, service } = await activeTokens(dave);
      const key = await world.apiKey(dave, ['read:users', 'delete:users']);
      const res = await request(world.server, 'DELETE', '/v2/users/me', { bearer: key.key });
      assert.equal(res.status, 204, JSON.stringify(res.body));
      await inactive(person.access_token, service.access_token);
    });

    it('its application deleted', async () => {
      const erin = await world.user({ tag: 'erin' });
      const service = await world.serviceToken(erin, ['read:users']);
      assert.equal((await introspected(resourceServer, service.access_token)).body['active'], true);
      const res = await erin.browser.request(`/oauth/applications/${service.app.client_id}`, { method: 'DELETE' });
      assert.equal(res.status, 204);
      await inactive(service.access_token);
    });
  });
});
