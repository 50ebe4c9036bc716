import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, authorizeUrl } from '../../test/support/http.ts';
import {
  authorizeAs,
  basicAuth,
  codeFlow,
  introspect,
  newApp,
  pkcePair,
  revoke,
  token,
  type RegisteredApp,
  type User,
} from '../../test/support/oauth.ts';
import { REDIRECT_URI, worldOn, request } from '../../test/support/world.ts';

describe('PKCE and application types', () => {
  let server: TestServer;
  let user: User;
  let spa: RegisteredApp;
  let web: RegisteredApp;

  before(async () => {
    server = await startTestServer();
    user = await worldOn(server).user();
    spa = await newApp(server, { type: 'spa', scopes: ['read:users'] });
    web = await newApp(server, { type: 'web', scopes: ['read:users'] });
  });
  after(() => server.dispose());

  /** The first redirect of an authorization request that fails before any page is shown. */
  async function authorizeError(
    app: RegisteredApp,
    extra: Record<string, string>,
    codeChallenge?: string,
  ): Promise<URL> {
    const res = await new Browser(server.url).get(
      authorizeUrl(server.url, {
        clientId: app.client_id,
        redirectUri: REDIRECT_URI,
        scope: 'read:users',
        state: 's-1',
        extra,
        ...(codeChallenge ? { codeChallenge } : {}),
      }),
    );
    assert.equal(res.status, 303);
    const to = new URL(res.headers.get('location')!);
    assert.equal(to.origin + to.pathname, REDIRECT_URI);
    assert.equal(to.searchParams.get('state'), 's-1');
    assert.equal(to.searchParams.get('code'), null);
    return to;
  }

  /** A code issued to `app` for `user`, with the given S256 challenge. */
  async function codeWithChallenge(app: RegisteredApp, challenge: string): Promise<string> {
    const { redirect } = await authorizeAs(server, app, user, { codeChallenge: challenge });
    const code = redirect.searchParams.get('code');
    assert.ok(code, `no code in ${redirect}`);
    return code;
  }

  const exchange = (app: RegisteredApp, code: string, verifier?: string) =>
    token(server, app, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      ...(verifier !== undefined ? { code_verifier: verifier } : {}),
    });

  it('registers a spa application without a client secret', () => {
    assert.equal(spa.client_secret, undefined);
    assert.match(web.client_secret!, /^lkcs_/);
  });

  it('refuses a spa authorization request without a code_challenge', async () => {
    const to = await authorizeError(spa, {});
    assert.equal(to.searchParams.get('error'), 'invalid_request');
  });

  it('refuses the plain code_challenge_method', async () => {
    for (const app of [spa, web]) {
      const to = await authorizeError(app, { code_challenge: pkcePair().verifier, code_challenge_method: 'plain' });
      assert.equal(to.searchParams.get('error'), 'invalid_request');
    }
  });

  it('exchanges a spa code only with the right code_verifier', async () => {
    const pkce = pkcePair();
    const wrong = await exchange(spa, await codeWithChallenge(spa, pkce.challenge), pkcePair().verifier);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body['error'], 'invalid_grant');

    const missing = await exchange(spa, await codeWithChallenge(spa, pkce.challenge));
    assert.equal(missing.status, 400);
    assert.equal(missing.body['error'], 'invalid_grant');

    const ok = await exchange(spa, await codeWithChallenge(spa, pkce.challenge), pkce.verifier);
    assert.equal(ok.status, 200);
    assert.equal(ok.body['scope'], 'read:users');
    assert.equal(typeof ok.body['access_token'], 'string');
    assert.equal(typeof ok.body['refresh_token'], 'string');
  });

  it('does not let a spa authenticate with a made-up client secret', async () => {
    const pkce = pkcePair();
    const code = await codeWithChallenge(spa, pkce.challenge);
    const res = await token(
      server,
      { ...spa, client_secret: 'lkcs_not-a-secret' },
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier },
    );
    assert.equal(res.status, 401);
    assert.equal(res.body['error'], 'invalid_client');
  });

  it('does not require PKCE from a confidential web application', async () => {
    const tokens = await codeFlow(server, web, user);
    assert.equal(tokens.scope, 'read:users');
  });

  it('makes the verifier mandatory once a confidential application sent a challenge', async () => {
    const pkce = pkcePair();
    const missing = await exchange(web, await codeWithChallenge(web, pkce.challenge));
    assert.equal(missing.status, 400);
    assert.equal(missing.body['error'], 'invalid_grant');

    const wrong = await exchange(web, await codeWithChallenge(web, pkce.challenge), pkcePair().verifier);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body['error'], 'invalid_grant');

    const ok = await exchange(web, await codeWithChallenge(web, pkce.challenge), pkce.verifier);
    assert.equal(ok.status, 200);
  });

  it('rejects a code_verifier sent for a code issued without a challenge', async () => {
    const { redirect } = await authorizeAs(server, web, user);
    const res = await exchange(web, redirect.searchParams.get('code')!, pkcePair().verifier);
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'invalid_grant');
  });
});

describe('service applications, introspection and revocation policy', () => {
  let server: TestServer;
  let service: RegisteredApp;
  let resourceServer: RegisteredApp;
  let webA: RegisteredApp;
  let webB: RegisteredApp;
  let user: User;

  before(async () => {
    server = await startTestServer();
    service = await newApp(server, { type: 'service', scopes: ['read:users', 'read:projects'] });
    resourceServer = await newApp(server, { type: 'resource_server', scopes: [] });
    webA = await newApp(server, { scopes: ['read:users', 'write:projects'] });
    webB = await newApp(server, { scopes: ['read:users', 'write:projects'] });
    user = await worldOn(server).user();
  });
  after(() => server.dispose());

  const clientCredentials = (scope?: string, auth: 'basic' | 'body' = 'basic') =>
    auth === 'basic'
      ? request(server, 'POST', '/oauth/token', {
          body: { grant_type: 'client_credentials', ...(scope !== undefined ? { scope } : {}) },
          headers: { Authorization: basicAuth(service) },
        })
      : token(server, service, { grant_type: 'client_credentials', ...(scope !== undefined ? { scope } : {}) });

  it('issues a client_credentials token limited to the requested registered scopes', async () => {
    for (const auth of ['basic', 'body'] as const) {
      const res = await clientCredentials('read:users', auth);
      assert.equal(res.status, 200);
      assert.equal(res.body['token_type'], 'Bearer');
      assert.equal(res.body['scope'], 'read:users');
      assert.equal(res.body['expires_in'], server.config.ACCESS_TOKEN_TTL);
      assert.equal(res.body['refresh_token'], undefined);
      const info = await introspect(server, service, res.body['access_token'] as string);
      assert.equal(info['active'], true);
      assert.equal(info['scope'], 'read:users');
      assert.equal(info['client_id'], service.client_id);
      assert.equal(info['aud'], server.config.API_RESOURCE);
      assert.equal(info['sub'], undefined);
    }
  });

  // Requested scopes outside the registration are dropped (RFC 6749 §3.3 lets the server issue fewer
  // scopes than asked and say so in `scope`); they are never granted.
  it('grants registered scopes and refuses unregistered ones with invalid_scope (RFC 6749 §5.2)', async () => {
    const granted: [string | undefined, string | undefined][] = [
      ['read:users', 'read:users'],
      ['read:projects read:users', 'read:projects read:users'],
      ['openid', undefined],
      [undefined, undefined],
    ];
    for (const [requested, scope] of granted) {
      const res = await clientCredentials(requested);
      assert.equal(res.status, 200, `${requested}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body['scope'], scope, `scope for ${requested}`);
      const info = await introspect(server, resourceServer, res.body['access_token'] as string);
      assert.equal(info['active'], true);
      assert.equal(info['scope'], scope, `introspected scope for ${requested}`);
    }
    for (const requested of [
      'read:users write:users',
      'delete:users read:projects',
      'read:users not:a-scope',
      'admin:all',
    ]) {
      const res = await clientCredentials(requested);
      assert.equal(res.status, 400, `${requested}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body['error'], 'invalid_scope');
      assert.equal(res.body['access_token'], undefined);
    }
  });

  // RFC 6749 §5.2: a grant type the authenticated client may not use is unauthorized_client.
  const assertGrantTypeRefused = (res: { status: number; body: Record<string, unknown> }) => {
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'unauthorized_client');
    assert.equal(res.body['access_token'], undefined);
  };

  it('refuses the service application the authorization code and refresh grants', async () => {
    assertGrantTypeRefused(
      await token(server, service, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI }),
    );
    assertGrantTypeRefused(await token(server, service, { grant_type: 'refresh_token', refresh_token: 'x' }));
  });

  it('refuses client_credentials to web and resource_server applications', async () => {
    assertGrantTypeRefused(await token(server, webA, { grant_type: 'client_credentials', scope: 'read:users' }));
    assertGrantTypeRefused(await token(server, resourceServer, { grant_type: 'client_credentials' }));
  });

  it('lets an application introspect only its own tokens, and a resource server any token', async () => {
    const tokens = await codeFlow(server, webA, user, { scope: 'read:users write:projects' });
    assert.equal((await introspect(server, webA, tokens.access_token))['active'], true);
    assert.deepEqual(await introspect(server, webB, tokens.access_token), { active: false });
    assert.deepEqual(await introspect(server, webB, tokens.refresh_token!), { active: false });
    assert.deepEqual(await introspect(server, service, tokens.access_token), { active: false });

    const seen = await introspect(server, resourceServer, tokens.access_token);
    assert.equal(seen['active'], true);
    assert.equal(seen['client_id'], webA.client_id);
    assert.equal(seen['scope'], 'read:users write:projects');

    const cc = await clientCredentials('read:projects');
    assert.deepEqual(await introspect(server, webA, cc.body['access_token'] as string), { active: false });
    assert.equal((await introspect(server, resourceServer, cc.body['access_token'] as string))['active'], true);
  });

  it('lets an application revoke only its own tokens', async () => {
    const tokens = await codeFlow(server, webA, user);
    assert.equal(await revoke(server, webB, tokens.access_token), 200);
    assert.equal((await introspect(server, webA, tokens.access_token))['active'], true);

    assert.equal(await revoke(server, webA, tokens.access_token), 200);
    assert.deepEqual(await introspect(server, webA, tokens.access_token), { active: false });
  });

  it('refuses introspection without client authentication (401 invalid_client, RFC 6749 §5.2)', async () => {
    const cc = await clientCredentials('read:users');
    const res = await request(server, 'POST', '/oauth/introspect', { body: { token: cc.body['access_token'] } });
    assert.equal(res.status, 401);
    assert.equal(res.body['error'], 'invalid_client');
    assert.equal(res.body['active'], undefined);
  });
});
