import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';

// /v2/apis input and ownership: every refusal is the documented JSON error naming the field, never
// a 500 and never a half-written API; another owner can neither use my API's scopes nor bind a
// resource server to it. And the built-in API's protected resource metadata (RFC 9728), which
// every 401 of /v2 points to.

describe('APIs: validation, ownership and protected resource metadata', () => {
  let world: TestWorld;
  let owner: TestUser;
  let mallory: TestUser;
  const tag = randomUUID().slice(0, 8);
  const scope = `read:things-${tag}`;
  let apiId: string;
  const identifier = `https://things-${tag}.example.com`;

  const jwtOf = (u: TestUser) =>
    world.jwt({ sub: u.id, scopes: ['read:applications', 'write:applications', 'read:users'] });
  const post = (u: TestUser, path: string, body: unknown) => world.request('POST', path, { bearer: jwtOf(u), body });
  const count = async (u: TestUser) =>
    ((await world.request('GET', '/v2/apis', { bearer: jwtOf(u) })).body['data'] as unknown[]).length;

  before(async () => {
    world = await startWorld();
    owner = await world.user({ tag: 'owner' });
    mallory = await world.user({ tag: 'mallory' });
    const res = await post(owner, '/v2/apis', {
      name: 'Things',
      identifier,
      scopes: [{ name: scope, description: 'Read things' }],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    apiId = String(res.body['id']);
    assert.equal(res.body['access_token_format'], 'opaque', 'the server’s format by default');
    assert.equal(res.body['access_token_ttl'], 3600, 'ACCESS_TOKEN_TTL by default');
  });
  after(() => world?.close());

  it('refuses bad input with 400 VALIDATION_FAILED naming the field, writing nothing', async () => {
    const base = { name: 'Bad', identifier: `https://bad-${tag}.example.com`, scopes: [] };
    const cases: [unknown, string][] = [
      [{ ...base, identifier: undefined }, 'identifier'],
      [{ ...base, identifier: 'orders' }, 'identifier'],
      [{ ...base, identifier: 'http://orders.example.com' }, 'identifier'],
      [{ ...base, identifier: 'https://orders.example.com/#x' }, 'identifier'],
      [{ ...base, identifier: 'https://user:pw@orders.example.com' }, 'identifier'],
      [{ ...base, name: '' }, 'name'],
      [{ ...base, scopes: [{ name: 'has space', description: 'x' }] }, 'scopes.0.name'],
      [{ ...base, scopes: [{ name: 'read:users', description: 'x' }] }, 'scopes.0.name'],
      [{ ...base, scopes: [{ name: 'openid', description: 'x' }] }, 'scopes.0.name'],
      [{ ...base, scopes: [{ name: 'x"y', description: 'x' }] }, 'scopes.0.name'],
      [
        {
          ...base,
          scopes: [
            { name: `a-${tag}`, description: 'x' },
            { name: `a-${tag}`, description: 'y' },
          ],
        },
        'scopes.1.name',
      ],
      [{ ...base, scopes: [{ name: `b-${tag}` }] }, 'scopes.0.description'],
      [{ ...base, access_token_format: 'paseto' }, 'access_token_format'],
      [{ ...base, access_token_ttl: 59 }, 'access_token_ttl'],
      [{ ...base, access_token_ttl: 86_401 }, 'access_token_ttl'],
      [{ ...base, surprise: true }, 'surprise'],
    ];
    const before = await count(owner);
    for (const [body, field] of cases) {
      const res = await post(owner, '/v2/apis', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.body)}`);
      const error = res.body['error'] as { code: string; field?: string };
      assert.equal(error.code, 'VALIDATION_FAILED');
      assert.equal(error.field, field, JSON.stringify(res.body));
    }
    const loopback = await post(owner, '/v2/apis', { ...base, identifier: `http://127.0.0.1:9/${tag}` });
    assert.equal(loopback.status, 201, 'http is allowed on loopback');
    assert.equal(await count(owner), before + 1);
  });

  it('answers 409 for a taken identifier or scope name, writing nothing', async () => {
    const before = await count(owner);
    const taken: [unknown, string][] = [
      [{ name: 'Again', identifier, scopes: [] }, 'identifier'],
      [{ name: 'Built-in', identifier: `${world.url}/v2`, scopes: [] }, 'identifier'],
      [
        {
          name: 'Same scope',
          identifier: `https://other-${tag}.example.com`,
          scopes: [
            { name: `fresh-${tag}`, description: 'x' },
            { name: scope, description: 'x' },
          ],
        },
        'scopes.1.name',
      ],
    ];
    for (const [body, field] of taken) {
      for (const who of [owner, mallory]) {
        const res = await post(who, '/v2/apis', body);
        assert.equal(res.status, 409, JSON.stringify(res.body));
        assert.deepEqual(res.body['error'], { ...(res.body['error'] as object), code: 'CONFLICT', field });
      }
    }
    assert.equal(await count(owner), before);
    const rename = await world.request('PATCH', `/v2/apis/${apiId}`, {
      bearer: jwtOf(owner),
      body: { identifier: 'https://moved.example.com' },
    });
    assert.equal(rename.status, 400, 'the identifier never changes');
  });

  it('another owner cannot give my API’s scopes to their application, nor bind a resource server to it', async () => {
    const app = (body: Record<string, unknown>) =>
      post(mallory, '/oauth/applications', { name: 'Mallory', redirect_uris: ['https://m.example/cb'], ...body });
    const mine = await app({ scopes: ['read:users', scope] });
    const unknown = await app({ scopes: ['read:users', `read:nothing-${tag}`] });
    for (const res of [mine, unknown]) {
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal((res.body['error'] as { field: string }).field, 'scopes.1');
    }
    assert.deepEqual(mine.body, unknown.body, 'the refusal does not tell my scope from a made-up one');
    const server = await post(mallory, '/oauth/applications', {
      name: 'Spy',
      type: 'resource_server',
      scopes: [],
      api: identifier,
    });
    assert.equal(server.status, 400, JSON.stringify(server.body));
    assert.equal((server.body['error'] as { field: string }).field, 'api');
    const wrongType = await post(owner, '/oauth/applications', {
      name: 'Web',
      redirect_uris: ['https://o.example/cb'],
      scopes: [scope],
      api: identifier,
    });
    assert.equal((wrongType.body['error'] as { field: string }).field, 'api', 'only resource servers belong to an API');
    const ok = await post(owner, '/oauth/applications', {
      name: 'Mine',
      redirect_uris: ['https://o.example/cb'],
      scopes: ['read:users', scope],
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.deepEqual(ok.body['scopes'], ['read:users', scope]);
    // Mallory's own application cannot be moved onto my scopes either.
    const own = await app({ scopes: ['read:users'] });
    const patched = await world.request('PATCH', `/oauth/applications/${own.body['client_id']}`, {
      bearer: jwtOf(mallory),
      body: { scopes: [scope] },
    });
    assert.equal(patched.status, 400, JSON.stringify(patched.body));
  });

  it('the dashboard’s application page keeps an application’s API scopes ticked, so a save keeps them', async () => {
    const made = await post(owner, '/oauth/applications', {
      name: 'Dashboard kept',
      redirect_uris: ['https://o.example/cb'],
      scopes: ['read:users', scope],
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const page = await owner.browser.get(`/settings/applications/${made.body['client_id']}`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const box = new RegExp(`name="scopes" value="${scope.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s+checked`);
    assert.match(html, box);
  });

  it('another owner cannot read, change or delete my API (403, as an unknown id)', async () => {
    const path = `/v2/apis/${apiId}`;
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'stolen' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await world.request(method, path, { bearer: jwtOf(mallory), body });
      assert.equal(res.status, 403, `${method}: ${JSON.stringify(res.body)}`);
    }
    const metadata = await world.request('GET', `${path}/metadata`, { bearer: jwtOf(mallory) });
    assert.equal(metadata.status, 403);
    assert.equal((await world.request('GET', path, { bearer: jwtOf(owner) })).body['name'], 'Things');
  });

  it('publishes each API’s metadata for its own server (GET /v2/apis/{id}/metadata)', async () => {
    const res = await world.request('GET', `/v2/apis/${apiId}/metadata`, { bearer: jwtOf(owner) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      resource: identifier,
      authorization_servers: [world.url],
      scopes_supported: [scope],
      bearer_methods_supported: ['header'],
      resource_name: 'Things',
      // The proofs the authorization server takes: the API can hold its tokens to their key.
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'Ed25519'],
    });
  });

  it('serves the built-in API’s protected resource metadata (RFC 9728) at its well-known path', async () => {
    const res = await fetch(`${world.url}/.well-known/oauth-protected-resource/v2`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc['resource'], `${world.url}/v2`);
    assert.deepEqual(doc['authorization_servers'], [world.url]);
    assert.deepEqual(doc['bearer_methods_supported'], ['header']);
    assert.equal(doc['resource_name'], 'Latchkey API');
    assert.ok((doc['scopes_supported'] as string[]).includes('read:users'));
    assert.deepEqual(doc['dpop_signing_alg_values_supported'], ['ES256', 'EdDSA', 'Ed25519'], 'DPoP is on');
    assert.deepEqual(
      doc['dpop_signing_alg_values_supported'],
      ((await (await fetch(`${world.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>)[
        'dpop_signing_alg_values_supported'
      ],
    );
    // The authorization server it names publishes its own metadata (RFC 8414 / OpenID discovery).
    const as = (await (await fetch(`${world.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(as['issuer'], world.url);
  });

  it('every 401 from /v2 names the metadata in WWW-Authenticate, with the documented body', async () => {
    const metadata = `resource_metadata="${world.url}/.well-known/oauth-protected-resource/v2"`;
    const none = await world.request('GET', '/v2/auth/test');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), `Bearer ${metadata}`);
    assert.deepEqual(none.body, {
      error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
    });
    const bad = await world.request('GET', '/v2/users', { bearer: 'not-a-token' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('www-authenticate'), `Bearer error="invalid_token", ${metadata}`);
    const malformed = await world.request('GET', '/v2/users', { headers: { Authorization: 'Basic abc' } });
    assert.equal(malformed.status, 401);
    assert.match(
      malformed.headers.get('www-authenticate') ?? '',
      /^Bearer error="invalid_request", resource_metadata=/,
    );
    // A 403 is not a 401: its challenge stays as it was.
    const scopeless = await world.request('GET', '/v2/users', { bearer: world.jwt({ sub: owner.id, scopes: [] }) });
    assert.equal(scopeless.status, 403);
    assert.doesNotMatch(scopeless.headers.get('www-authenticate') ?? '', /resource_metadata/);
  });

  it('a deleted account takes its APIs and the resource servers bound to them: a new API starts clean', async () => {
    const leaving = await world.user({ tag: 'leaving' });
    const admin = await world.user({ admin: true, tag: 'rs-admin' });
    const adminJwt = world.jwt({ sub: admin.id, scopes: ['admin:all'] });
    const reused = `https://leaving-${tag}.example.com`;
    assert.equal((await post(leaving, '/v2/apis', { name: 'Leaving', identifier: reused, scopes: [] })).status, 201);
    // An admin's resource server for that API (another account than the API's owner).
    const rs = await world.request('POST', '/oauth/applications', {
      bearer: adminJwt,
      body: { name: 'Leaving RS', type: 'resource_server', api: reused, scopes: [] },
    });
    assert.equal(rs.status, 201, JSON.stringify(rs.body));
    const client = rs.body as { client_id: string; client_secret: string };

    const deleted = await world.request('DELETE', `/v2/users/${leaving.id}`, { bearer: adminJwt });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    const gone = await world.request('GET', `/oauth/applications/${client.client_id}`, { bearer: adminJwt });
    assert.equal(gone.status, 404, 'the resource server went with its API');

    // Someone else registers the same identifier: the old resource server cannot read its tokens.
    assert.equal((await post(mallory, '/v2/apis', { name: 'Mine now', identifier: reused, scopes: [] })).status, 201);
    const introspect = await world.request('POST', '/oauth/introspect', {
      headers: {
        Authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      },
      body: { token: 'anything' },
    });
    assert.equal(introspect.status, 401);
    assert.equal(introspect.body['error'], 'invalid_client');
  });
});
