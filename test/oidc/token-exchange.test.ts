/**
 * Token exchange (RFC 8693): an application allowed to exchange for an API trades a person's
 * access token that was presented to it for a token to that API, acting for the same person with
 * an `act` claim; it never widens (scopes, lifetime), stands on the person's grant, and every
 * refusal is an RFC error, never a 500. Real server, real tokens from the real sign-in pages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csrfFrom } from '../support/http.ts';
import { basicAuth, introspect, revoke } from '../support/oauth.ts';
import { request, startWorld, type RegisteredApp, type TestUser, type TestWorld } from '../support/world.ts';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

for (const format of ['opaque', 'jwt'] as const) {
  describe(`Token exchange (RFC 8693), ${format} access tokens`, () => {
    let world: TestWorld;
    let developer: TestUser;
    let person: TestUser;
    let api: string;
    /** The person's token, issued to a web application (the front) for /v2. */
    let subject: { access_token: string; app: RegisteredApp };
    /** /v2's resource server, allowed to exchange for /v2: it receives the front's calls. */
    let backend: RegisteredApp;

    const register = async (body: Record<string, unknown>) => {
      const res = await request(developer.browser, 'POST', '/oauth/applications', {
        body: { name: 'Exchange test', scopes: ['read:users', 'read:projects'], ...body },
      });
      assert.equal(res.status, 201, await res.text());
      return res.body as RegisteredApp;
    };
    const exchange = (as: RegisteredApp, params: Record<string, string>) =>
      fetch(`${world.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(as) },
        body: new URLSearchParams({ grant_type: GRANT, subject_token_type: ACCESS_TOKEN, ...params }).toString(),
      });
    const refusal = async (res: Response, error: string) => {
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, error === 'invalid_client' ? 401 : 400, JSON.stringify(body));
      assert.equal(body['error'], error, JSON.stringify(body));
      return body;
    };
    const authTest = (token: string) => request(world.server, 'GET', '/v2/auth/test', { bearer: token });

    before(async () => {
      world = await startWorld({ env: { ACCESS_TOKEN_FORMAT: format } });
      api = world.server.config.API_RESOURCE;
      developer = await world.user({ tag: 'dev', admin: true });
      person = await world.user({ tag: 'person' });
      subject = await world.oauthToken(person, ['read:users', 'read:projects']);
      backend = await register({ type: 'resource_server', scopes: [], token_exchange: [api] });
    });
    after(() => world.close());

    it('delegation: the new token acts for the person at /v2, for the caller, with act', async () => {
      const res = await exchange(backend, { subject_token: subject.access_token, resource: api });
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(body['issued_token_type'], ACCESS_TOKEN);
      assert.equal(body['token_type'], 'Bearer');
      assert.equal(body['scope'], 'read:users read:projects');
      assert.equal(body['refresh_token'], undefined);
      assert.ok(typeof body['expires_in'] === 'number' && body['expires_in'] > 0 && body['expires_in'] <= 3600);
      const exchanged = String(body['access_token']);

      const seen = await authTest(exchanged);
      assert.equal(seen.status, 200, await seen.text());
      assert.equal(seen.body['subject'], person.id);
      assert.deepEqual(seen.body['scopes'], ['read:users', 'read:projects']);
      const me = await request(world.server, 'GET', '/v2/users/me', { bearer: exchanged });
      assert.equal(me.status, 200);
      assert.equal(me.body['email'], person.email);

      const described = await introspect(world.server, backend, exchanged);
      assert.equal(described['active'], true);
      assert.equal(described['client_id'], backend.client_id);
      assert.equal(described['sub'], person.id);
      if (format === 'opaque') {
        assert.deepEqual(described['act'], { sub: backend.client_id });
      } else {
        const claims = JSON.parse(Buffer.from(exchanged.split('.')[1]!, 'base64url').toString()) as Record<
          string,
          unknown
        >;
        assert.deepEqual(claims['act'], { sub: backend.client_id });
        assert.equal(claims['aud'], api);
        assert.equal(claims['client_id'], backend.client_id);
      }
    });

    it('narrows to the scopes asked for, and never widens (invalid_scope)', async () => {
      const narrow = await exchange(backend, {
        subject_token: subject.access_token,
        resource: api,
        scope: 'read:users',
      });
      const body = (await narrow.json()) as Record<string, unknown>;
      assert.equal(narrow.status, 200, JSON.stringify(body));
      assert.equal(body['scope'], 'read:users');
      assert.deepEqual((await authTest(String(body['access_token']))).body['scopes'], ['read:users']);

      for (const scope of ['write:projects', 'read:users admin:all', 'openid', 'read:users write:users']) {
        await refusal(
          await exchange(backend, { subject_token: subject.access_token, resource: api, scope }),
          'invalid_scope',
        );
      }
    });

    it('a nested exchange keeps the chain: act names the latest actor, then the one before', async () => {
      const first = (await (
        await exchange(backend, { subject_token: subject.access_token, resource: api })
      ).json()) as {
        access_token: string;
        expires_in: number;
      };
      const second = await register({ type: 'resource_server', scopes: [], token_exchange: [api] });
      const res = await exchange(second, { subject_token: first.access_token, audience: api, scope: 'read:users' });
      const body = (await res.json()) as { access_token: string; expires_in: number };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.ok(body.expires_in <= first.expires_in, 'never outlives the subject token');
      const token = body.access_token;
      const act =
        format === 'opaque'
          ? (await introspect(world.server, second, token))['act']
          : JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['act'];
      assert.deepEqual(act, { sub: second.client_id, act: { sub: backend.client_id } });
    });

    it('an application may exchange a token issued to itself', async () => {
      const web = await register({ redirect_uris: ['https://client.example/callback'], token_exchange: [api] });
      // The front application itself is not allowed; a web application that is may exchange its own.
      await refusal(
        await exchange(subject.app, { subject_token: subject.access_token, resource: api }),
        'unauthorized_client',
      );
      const own = await world.oauthToken(person, ['read:users']);
      // world.oauthToken registers its own application: exchange that token as `web` is someone else's.
      await refusal(await exchange(web, { subject_token: own.access_token, resource: api }), 'invalid_grant');
      assert.ok(web.client_secret);
    });

    it('a caller not allowed token exchange for the API is unauthorized_client', async () => {
      const notAllowed = await register({ type: 'resource_server', scopes: [] });
      await refusal(
        await exchange(notAllowed, { subject_token: subject.access_token, resource: api }),
        'unauthorized_client',
      );
      const wrongSecret = { ...backend, client_secret: 'lkcs_wrong' };
      await refusal(
        await exchange(wrongSecret, { subject_token: subject.access_token, resource: api }),
        'invalid_client',
      );
    });

    it('a token not presented to the caller, a client’s own token, garbage: invalid_grant', async () => {
      // A service allowed to exchange, but neither the token's application nor its API's resource server.
      const service = await register({ type: 'service', token_exchange: [api] });
      await refusal(await exchange(service, { subject_token: subject.access_token, resource: api }), 'invalid_grant');
      const cc = await world.serviceToken(developer, ['read:users']);
      await refusal(await exchange(backend, { subject_token: cc.access_token, resource: api }), 'invalid_grant');
      for (const garbage of ['not-a-token', 'a.b.c', 'lk_live_notakey']) {
        await refusal(await exchange(backend, { subject_token: garbage, resource: api }), 'invalid_grant');
      }
    });

    it('a revoked subject token, or a revoked grant, ends the exchange and the exchanged tokens', async () => {
      const fresh = await world.oauthToken(person, ['read:users']);
      const exchanged = (await (
        await exchange(backend, { subject_token: fresh.access_token, resource: api })
      ).json()) as {
        access_token: string;
      };
      assert.equal((await authTest(exchanged.access_token)).status, 200);
      // The person takes back what they granted the front application: both tokens stop working.
      const revoked = await request(person.browser, 'DELETE', `/v2/consents/${fresh.app.client_id}`);
      assert.equal(revoked.status, 204, await revoked.text());
      assert.equal((await authTest(exchanged.access_token)).status, 401);
      assert.equal((await introspect(world.server, backend, exchanged.access_token))['active'], false);
      await refusal(await exchange(backend, { subject_token: fresh.access_token, resource: api }), 'invalid_grant');

      if (format === 'opaque') {
        const other = await world.oauthToken(person, ['read:users']);
        assert.equal(await revoke(world.server, other.app, other.access_token), 200);
        await refusal(await exchange(backend, { subject_token: other.access_token, resource: api }), 'invalid_grant');
      }
    });

    it('public clients are refused: no token exchange for a spa, and the grant is unauthorized_client', async () => {
      const res = await request(developer.browser, 'POST', '/oauth/applications', {
        body: {
          name: 'SPA',
          type: 'spa',
          redirect_uris: ['https://spa.example/cb'],
          scopes: ['read:users'],
          token_exchange: [api],
        },
      });
      assert.equal(res.status, 400);
      assert.equal((res.body['error'] as { field?: string }).field, 'token_exchange');
      const spa = await register({ type: 'spa', redirect_uris: ['https://spa.example/cb'] });
      const asPublic = await fetch(`${world.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: GRANT,
          client_id: spa.client_id,
          subject_token: subject.access_token,
          subject_token_type: ACCESS_TOKEN,
          resource: api,
        }).toString(),
      });
      await refusal(asPublic, 'unauthorized_client');
    });

    it('token_exchange names existing APIs only, on confidential applications', async () => {
      const res = await request(developer.browser, 'POST', '/oauth/applications', {
        body: { name: 'Bad', type: 'service', scopes: [], token_exchange: ['https://nowhere.example'] },
      });
      assert.equal(res.status, 400);
      assert.equal((res.body['error'] as { field?: string }).field, 'token_exchange.0');
      const listed = await request(developer.browser, 'GET', `/oauth/applications/${backend.client_id}`);
      assert.deepEqual(listed.body['token_exchange'], [api]);
    });

    it('the dashboard form shows and saves token exchange, and refuses an unknown API', async () => {
      const post = async (path: string, fields: Record<string, string>) => {
        const page = await (await developer.browser.get(path)).text();
        const target = path.endsWith('/new') ? '/settings/applications' : path;
        return developer.browser.postForm(target, { _csrf: csrfFrom(page), ...fields });
      };
      const fields = { name: 'Form backend', type: 'service', redirect_uris: '', scopes: 'read:users' };
      const created = await post('/settings/applications/new', { ...fields, token_exchange: api });
      assert.equal(created.status, 303);
      const id = decodeURIComponent(/applications\/([^/?]+)/.exec(created.headers.get('location')!)![1]!);
      const detail = await (await developer.browser.get(`/settings/applications/${id}`)).text();
      assert.match(detail, new RegExp(`<textarea id="token_exchange"[^>]*>${api}</textarea>`));
      const refused = await post(`/settings/applications/${id}`, {
        ...fields,
        token_exchange: 'https://no-api.example',
      });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /no API has the identifier/);
    });

    it('bad input is an RFC 6749/8693 error, never a 500', async () => {
      const s = subject.access_token;
      const cases: Array<[Record<string, string>, string]> = [
        [{ resource: api }, 'invalid_request'],
        [
          { subject_token: s, resource: api, subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
          'invalid_request',
        ],
        [{ subject_token: s, resource: api, subject_token_type: '' }, 'invalid_request'],
        [
          { subject_token: s, resource: api, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
          'invalid_request',
        ],
        [{ subject_token: s, resource: api, actor_token: s, actor_token_type: ACCESS_TOKEN }, 'invalid_request'],
        [{ subject_token: s }, 'invalid_target'],
        [{ subject_token: s, resource: 'https://unknown.example/api' }, 'invalid_target'],
        [{ subject_token: s, resource: api, audience: 'https://other.example' }, 'invalid_target'],
        [{ subject_token: s, resource: api, scope: 'read:users\u0000' }, 'invalid_scope'],
      ];
      for (const [params, error] of cases) {
        await refusal(await exchange(backend, params), error);
      }
      const twice = await fetch(`${world.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(backend) },
        body: new URLSearchParams([
          ['grant_type', GRANT],
          ['subject_token_type', ACCESS_TOKEN],
          ['subject_token', s],
          ['subject_token', s],
          ['resource', api],
        ]).toString(),
      });
      await refusal(twice, 'invalid_request');
    });
  });
}
