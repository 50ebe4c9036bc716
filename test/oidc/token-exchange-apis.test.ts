/**
 * Token exchange to a registered API: /v2's backend receives a person's /v2 token and exchanges it
 * for a token to the Orders API the person also granted the front application; the Orders resource
 * server introspects it and sees the person, the caller and `act`. Scopes come from the person's
 * grant for Orders alone: never /v2's, never more than granted.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registerApp } from '../support/http.ts';
import { authorizeAs, basicAuth, introspect, pkcePair, token } from '../support/oauth.ts';
import { REDIRECT_URI, startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../support/world.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

describe('Token exchange to a registered API', () => {
  let world: TestWorld;
  let owner: TestUser;
  let person: TestUser;
  let orders: string;
  let ordersServer: RegisteredApp;
  let backend: RegisteredApp;
  let subjectToken: string;
  const tag = randomUUID().slice(0, 8);
  const readOrders = `read:orders-${tag}`;
  const writeOrders = `write:orders-${tag}`;

  const ownerJwt = () =>
    world.jwt({ sub: owner.id, scopes: ['read:applications', 'write:applications', 'read:users'] });
  const exchange = (params: Record<string, string>) =>
    fetch(`${world.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(backend) },
      body: new URLSearchParams({ grant_type: GRANT, subject_token_type: ACCESS_TOKEN, ...params }).toString(),
    });

  before(async () => {
    world = await startWorld();
    owner = await world.user({ tag: 'api-owner' });
    person = await world.user({ tag: 'person' });
    const api = await world.request('POST', '/v2/apis', {
      bearer: ownerJwt(),
      body: {
        name: 'Orders API',
        identifier: `https://orders-${tag}.example.com`,
        scopes: [
          { name: readOrders, description: 'Read your orders' },
          { name: writeOrders, description: 'Place orders' },
        ],
      },
    });
    assert.equal(api.status, 201, JSON.stringify(api.body));
    orders = String(api.body['identifier']);
    const front = await registerApp(owner.browser, {
      name: 'Shop',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users', readOrders, writeOrders],
      type: 'web',
    });
    const server = async (body: Record<string, unknown>) => {
      const res = await world.request('POST', '/oauth/applications', {
        bearer: ownerJwt(),
        body: { name: 'Resource server', type: 'resource_server', scopes: [], ...body },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as unknown as RegisteredApp;
    };
    ordersServer = await server({ api: orders });
    backend = await server({ token_exchange: [orders] });

    // The person grants the front application /v2's read:users and Orders' read:orders (not write).
    const pkce = pkcePair();
    const { redirect } = await authorizeAs(world.server, front, person, {
      scope: `read:users ${readOrders}`,
      codeChallenge: pkce.challenge,
      extra: { resource: [`${world.url}/v2`, orders] },
    });
    const res = await token(world.server, front, {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code'),
      redirect_uri: REDIRECT_URI,
      code_verifier: pkce.verifier,
      resource: `${world.url}/v2`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    subjectToken = String(res.body['access_token']);
  });
  after(() => world.close());

  it('the exchanged token is for Orders, with the granted Orders scopes; its resource server sees act', async () => {
    const res = await exchange({ subject_token: subjectToken, resource: orders });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body['scope'], readOrders);
    const exchanged = String(body['access_token']);

    const seen = await introspect(world.server, ordersServer, exchanged);
    assert.equal(seen['active'], true, JSON.stringify(seen));
    assert.equal(seen['aud'], orders);
    assert.equal(seen['sub'], person.id);
    assert.equal(seen['client_id'], backend.client_id);
    assert.equal(seen['scope'], readOrders);
    assert.deepEqual(seen['act'], { sub: backend.client_id });
    // Not a /v2 token: /v2 refuses it.
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: exchanged })).status, 401);
  });

  it('cannot widen to a scope of the API the person did not grant, nor take /v2 scopes to Orders', async () => {
    for (const scope of [writeOrders, `${readOrders} ${writeOrders}`, 'read:users']) {
      const res = await exchange({ subject_token: subjectToken, resource: orders, scope });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body['error'], 'invalid_scope');
    }
  });

  it('a caller allowed Orders only is unauthorized_client for /v2', async () => {
    const res = await exchange({ subject_token: subjectToken, resource: `${world.url}/v2` });
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized_client');
  });
});
