/**
 * Token exchange with two real client libraries, unmodified, as their READMEs show: openid-client 6
 * (`genericGrantRequest`) and oauth4webapi 3 (`genericTokenEndpointRequest` and the strict
 * `processGenericTokenEndpointResponse`). A resource server of /v2 exchanges the person's token it
 * received for a narrower one; the library accepts the answer and the token works at /v2.
 * The server runs on http://127.0.0.1: `allowInsecureRequests` is the one concession.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import { request, startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../support/world.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

describe('Token exchange with openid-client and oauth4webapi', () => {
  let world: TestWorld;
  let person: TestUser;
  let backend: RegisteredApp;
  let subjectToken: string;
  let api: string;

  before(async () => {
    world = await startWorld();
    api = world.server.config.API_RESOURCE;
    const developer = await world.user({ tag: 'dev' });
    person = await world.user({ tag: 'person' });
    subjectToken = (await world.oauthToken(person, ['read:users', 'read:projects'])).access_token;
    const res = await request(developer.browser, 'POST', '/oauth/applications', {
      body: { name: 'Orders backend', type: 'resource_server', scopes: [], token_exchange: [api] },
    });
    assert.equal(res.status, 201, await res.text());
    backend = res.body as RegisteredApp;
  });
  after(() => world.close());

  const worksAtApi = async (token: string) => {
    const res = await request(world.server, 'GET', '/v2/auth/test', { bearer: token });
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.body['subject'], person.id);
    assert.deepEqual(res.body['scopes'], ['read:users']);
  };

  it('openid-client: discovery, genericGrantRequest, the token works at /v2', async () => {
    const config = await client.discovery(
      new URL(world.server.config.ISSUER),
      backend.client_id,
      backend.client_secret,
      undefined,
      { execute: [client.allowInsecureRequests] },
    );
    assert.ok(config.serverMetadata().grant_types_supported?.includes(GRANT));
    const tokens = await client.genericGrantRequest(config, GRANT, {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN,
      resource: api,
      scope: 'read:users',
    });
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens['issued_token_type'], ACCESS_TOKEN);
    assert.equal(tokens.scope, 'read:users');
    assert.ok((tokens.expiresIn() ?? 0) > 0);
    assert.equal(tokens.refresh_token, undefined);
    await worksAtApi(tokens.access_token);

    // A refusal reaches the library as the RFC error it is.
    await assert.rejects(
      client.genericGrantRequest(config, GRANT, {
        subject_token: subjectToken,
        subject_token_type: ACCESS_TOKEN,
        resource: api,
        scope: 'write:projects',
      }),
      (err: { error?: string }) => err.error === 'invalid_scope',
    );
  });

  it('oauth4webapi: genericTokenEndpointRequest, strict processGenericTokenEndpointResponse', async () => {
    const insecure = { [oauth.allowInsecureRequests]: true };
    const issuer = new URL(world.server.config.ISSUER);
    const as = await oauth
      .discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure })
      .then((response) => oauth.processDiscoveryResponse(issuer, response));
    const rp: oauth.Client = { client_id: backend.client_id };
    const clientAuth = oauth.ClientSecretBasic(backend.client_secret!);
    const parameters = {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN,
      resource: api,
      scope: 'read:users',
    };
    const response = await oauth.genericTokenEndpointRequest(as, rp, clientAuth, GRANT, parameters, insecure);
    const tokens = await oauth.processGenericTokenEndpointResponse(as, rp, response);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens['issued_token_type'], ACCESS_TOKEN);
    assert.equal(tokens.scope, 'read:users');
    await worksAtApi(tokens.access_token);

    const refused = await oauth.genericTokenEndpointRequest(
      as,
      rp,
      clientAuth,
      GRANT,
      { ...parameters, subject_token: 'not-a-token' },
      insecure,
    );
    await assert.rejects(
      oauth.processGenericTokenEndpointResponse(as, rp, refused),
      (err: unknown) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant',
    );
  });
});
