import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { authorizeAs, basicAuth, introspect, pkcePair, token } from '../../../test/support/oauth.ts';
import { registerApp } from '../../../test/support/http.ts';
import {
  REDIRECT_URI,
  startWorld,
  type RegisteredApp,
  type TestUser,
  type TestWorld,
} from '../../../test/support/world.ts';

// Two APIs with their own scopes and one application using both, through the real sign-in and
// consent pages: each access token is for one API (its `aud`), carries that API's scopes only, and
// is seen by that API's resource server alone; the built-in /v2 API refuses the others' tokens.

interface Api {
  id: string;
  identifier: string;
  scopes: { name: string }[];
}

describe('APIs and resource indicators (RFC 8707)', () => {
  let world: TestWorld;
  let owner: TestUser;
  let person: TestUser;
  let orders: Api;
  let billing: Api;
  let app: RegisteredApp;
  let ordersServer: RegisteredApp;
  let billingServer: RegisteredApp;
  let builtInServer: RegisteredApp;
  const tag = randomUUID().slice(0, 8);
  const readOrders = `read:orders-${tag}`;
  const payBills = `pay:bills-${tag}`;

  const ownerJwt = () =>
    world.jwt({ sub: owner.id, scopes: ['read:applications', 'write:applications', 'read:users'] });
  const createApi = async (body: Record<string, unknown>) => {
    const res = await world.request('POST', '/v2/apis', { bearer: ownerJwt(), body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as unknown as Api;
  };
  const authTest = (accessToken: string) => world.request('GET', '/v2/auth/test', { bearer: accessToken });

  /** Code flow to the token response; `resources` at authorize, `resource` at the token endpoint. */
  async function tokensFor(scope: string, resources: string[], tokenResource?: string) {
    const pkce = pkcePair();
    const { redirect, consentHtml } = await authorizeAs(world.server, app, person, {
      scope,
      codeChallenge: pkce.challenge,
      ...(resources.length ? { extra: { resource: resources } } : {}),
    });
    const code = redirect.searchParams.get('code');
    assert.ok(code, `no code: ${redirect}`);
    const res = await token(world.server, app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: pkce.verifier,
      ...(tokenResource ? { resource: tokenResource } : {}),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { ...(res.body as { access_token: string; refresh_token: string; scope: string }), consentHtml };
  }

  before(async () => {
    world = await startWorld();
    owner = await world.user({ tag: 'api-owner' });
    person = await world.user({ tag: 'person' });
    orders = await createApi({
      name: 'Orders API',
      identifier: `https://orders-${tag}.example.com`,
      scopes: [{ name: readOrders, description: 'Read your orders' }],
    });
    billing = await createApi({
      name: 'Billing API',
      identifier: `https://billing-${tag}.example.com/v1`,
      scopes: [{ name: payBills, description: 'Pay your bills' }],
      access_token_format: 'jwt',
      access_token_ttl: 600,
    });
    app = await registerApp(owner.browser, {
      name: 'Shop',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users', readOrders, payBills],
      type: 'web',
    });
    const server = (api?: string) =>
      world.request('POST', '/oauth/applications', {
        bearer: ownerJwt(),
        body: { name: 'Resource server', type: 'resource_server', scopes: [], ...(api ? { api } : {}) },
      });
    const made = await Promise.all([server(orders.identifier), server(billing.identifier), server()]);
    for (const res of made) assert.equal(res.status, 201, JSON.stringify(res.body));
    const [a, b, c] = made.map((r) => r.body as unknown as RegisteredApp);
    [ordersServer, billingServer, builtInServer] = [a!, b!, c!];
    assert.equal(ordersServer!['api'], orders.identifier);
    assert.equal(builtInServer!['api'], `${world.url}/v2`);
  });
  after(() => world?.close());

  it('asks consent for each API under its name, then issues one token per API with its scopes only', async () => {
    const resources = [orders.identifier, billing.identifier, `${world.url}/v2`];
    const first = await tokensFor(`openid read:users ${readOrders} ${payBills}`, resources, orders.identifier);
    const html = first.consentHtml ?? '';
    assert.match(html, /On <strong>Orders API<\/strong>/);
    assert.match(html, /Read your orders<\/span> <code>read:orders-/);
    assert.match(html, /On <strong>Billing API<\/strong>/);
    assert.match(html, /Pay your bills<\/span> <code>pay:bills-/);
    assert.match(html, /Read user information/, 'the built-in API’s scopes as before');

    // The token for Orders: its scope, its audience; its resource server alone sees it.
    assert.equal(first.scope.split(' ').includes(readOrders), true, first.scope);
    assert.equal(first.scope.includes(payBills), false, first.scope);
    assert.equal(first.scope.includes('read:users'), false, first.scope);
    const seen = await introspect(world.server, ordersServer, first.access_token);
    assert.equal(seen['active'], true, JSON.stringify(seen));
    assert.equal(seen['scope'], readOrders);
    assert.equal(seen['aud'], orders.identifier);
    assert.equal(seen['sub'], person.id);
    assert.deepEqual(await introspect(world.server, billingServer, first.access_token), { active: false });
    assert.deepEqual(await introspect(world.server, builtInServer, first.access_token), { active: false });
    assert.equal((await authTest(first.access_token)).status, 401, '/v2 refuses a token for another API');

    // A refresh narrows to Billing: a JWT whose aud is Billing, verifiable with /oauth/jwks.
    const forBilling = await token(world.server, app, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      resource: billing.identifier,
    });
    assert.equal(forBilling.status, 200, JSON.stringify(forBilling.body));
    const jwtToken = String(forBilling.body['access_token']);
    const jwks = createRemoteJWKSet(new URL(`${world.url}/oauth/jwks`));
    const { payload, protectedHeader } = await jwtVerify(jwtToken, jwks, {
      issuer: world.url,
      audience: billing.identifier,
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload['scope'], payBills);
    assert.ok(payload.exp! - payload.iat! <= 600, 'the API’s own lifetime');
    assert.equal((await introspect(world.server, billingServer, jwtToken))['active'], true);
    assert.deepEqual(await introspect(world.server, ordersServer, jwtToken), { active: false });
    assert.equal((await authTest(jwtToken)).status, 401);

    // And to the built-in API: /v2 accepts it with the built-in scopes (and userinfo's OpenID ones).
    const forV2 = await token(world.server, app, {
      grant_type: 'refresh_token',
      refresh_token: String(forBilling.body['refresh_token']),
      resource: `${world.url}/v2`,
    });
    assert.equal(forV2.status, 200, JSON.stringify(forV2.body));
    const v2 = await authTest(String(forV2.body['access_token']));
    assert.equal(v2.status, 200);
    const v2Scopes = v2.body['scopes'] as string[];
    assert.ok(
      v2Scopes.includes('read:users') && !v2Scopes.some((s) => s === readOrders || s === payBills),
      `${v2Scopes}`,
    );
    assert.deepEqual(await introspect(world.server, ordersServer, String(forV2.body['access_token'])), {
      active: false,
    });
  });

  it('refuses a resource that is unknown or was not granted: invalid_target', async () => {
    const { refresh_token } = await tokensFor(readOrders, [orders.identifier]);
    for (const resource of ['https://unknown.example.com', billing.identifier]) {
      const res = await token(world.server, app, { grant_type: 'refresh_token', refresh_token, resource });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body['error'], 'invalid_target');
    }
    const pkce = pkcePair();
    const { redirect } = await authorizeAs(world.server, app, person, {
      scope: readOrders,
      codeChallenge: pkce.challenge,
      extra: { resource: 'https://unknown.example.com' },
    });
    assert.equal(redirect.searchParams.get('error'), 'invalid_target');
  });

  it('without `resource`, a request naming one API’s scopes is for that API; the built-in one otherwise', async () => {
    const ordersOnly = await tokensFor(readOrders, []);
    assert.equal(ordersOnly.scope, readOrders);
    assert.equal((await introspect(world.server, ordersServer, ordersOnly.access_token))['active'], true);
    const v2Only = await tokensFor('read:users', []);
    assert.equal((await authTest(v2Only.access_token)).status, 200);
  });

  it('a scope the API drops leaves the application and its tokens; a deleted API’s tokens stop', async () => {
    const tmp = await createApi({
      name: 'Short-lived API',
      identifier: `https://short-${tag}.example.com`,
      scopes: [
        { name: `keep-${tag}`, description: 'Kept' },
        { name: `drop-${tag}`, description: 'Dropped' },
      ],
    });
    const patchApp = await world.request('PATCH', `/oauth/applications/${app.client_id}`, {
      bearer: ownerJwt(),
      body: { scopes: ['read:users', readOrders, payBills, `keep-${tag}`, `drop-${tag}`] },
    });
    assert.equal(patchApp.status, 200, JSON.stringify(patchApp.body));
    const tokens = await tokensFor(`keep-${tag} drop-${tag}`, [tmp.identifier]);
    assert.deepEqual(tokens.scope.split(' ').sort(), [`drop-${tag}`, `keep-${tag}`]);
    const own = await introspect(world.server, app, tokens.access_token);
    assert.equal(own['active'], true, 'an application introspects its own token of any API');

    const narrowed = await world.request('PATCH', `/v2/apis/${tmp.id}`, {
      bearer: ownerJwt(),
      body: { scopes: [{ name: `keep-${tag}`, description: 'Kept' }] },
    });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    const appNow = await world.request('GET', `/oauth/applications/${app.client_id}`, { bearer: ownerJwt() });
    assert.equal((appNow.body['scopes'] as string[]).includes(`drop-${tag}`), false);
    assert.equal((await introspect(world.server, app, tokens.access_token))['scope'], `keep-${tag}`);

    const deleted = await world.request('DELETE', `/v2/apis/${tmp.id}`, { bearer: ownerJwt() });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await introspect(world.server, app, tokens.access_token), { active: false });
    const appAfter = await world.request('GET', `/oauth/applications/${app.client_id}`, { bearer: ownerJwt() });
    assert.deepEqual(appAfter.body['scopes'], ['read:users', readOrders, payBills]);
  });

  it('an API with resource servers cannot be deleted until they go (409)', async () => {
    const res = await world.request('DELETE', `/v2/apis/${orders.id}`, { bearer: ownerJwt() });
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal((res.body['error'] as { code: string }).code, 'CONFLICT');
    const still = await world.request('GET', `/v2/apis/${orders.id}`, { bearer: ownerJwt() });
    assert.equal(still.status, 200);
  });

  it('API keys and shared-secret JWTs are for the built-in API: another API’s resource server sees nothing', async () => {
    const key = await world.apiKey(person, ['read:users']);
    const shared = world.jwt({ sub: person.id, scopes: ['read:users'] });
    for (const credential of [key.key, shared]) {
      assert.deepEqual(await introspect(world.server, ordersServer, credential), { active: false });
      assert.equal((await introspect(world.server, builtInServer, credential))['active'], true);
    }
    const wrongSecret = { ...ordersServer, client_secret: 'lkcs_wrong' };
    const res = await world.request('POST', '/oauth/introspect', {
      body: { token: shared },
      headers: { Authorization: basicAuth(wrongSecret) },
    });
    assert.equal(res.status, 401);
  });
});
