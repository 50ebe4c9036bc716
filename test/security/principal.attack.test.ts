/**
 * Attacks on "who is calling, and with which rights *now*": each case performs the attack over
 * real HTTP against the real server and asserts the documented refusal. Parallel attempts go out
 * at once (Promise.all over separate sockets), as an attacker would send them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectApiError, signIn } from '../support/api.ts';
import { Browser, registerApp } from '../support/http.ts';
import { basicAuth, token as tokenRequest } from '../support/oauth.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startWorld, worldOn, credentialServerEnv, type World, type TestUser, request } from '../support/world.ts';

const NEW_PASSWORD = 'the attacker chose this one';

/** /v2/auth/test as the credential sees itself. */
async function selfTest(server: TestServer, token: string) {
  return request(server, 'GET', '/v2/auth/test', { bearer: token });
}

async function clientCredentials(
  server: TestServer,
  app: { client_id: string; client_secret?: string },
  scope?: string,
) {
  return tokenRequest(server, app, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
}

describe('attacks: one principal, current rights', () => {
  let server: TestServer;
  let make: World;

  before(async () => {
    make = await startWorld();
    server = make.server;
  });
  after(() => server.dispose());

  describe('write:users cannot take over the account (password and email are browser-only)', () => {
    it(
      'PATCH /v2/users/me {password|email} with an API key, a third-party OAuth token, a shared-secret JWT or the ' +
        'dashboard cookie -> 400 naming the field',
      async () => {
        const victim = await make.user({ tag: 'takeover' });
        const [key, oauth] = await Promise.all([
          make.apiKey(victim, ['write:users', 'read:users']),
          make.oauthToken(victim, ['write:users']),
        ]);
        const jwt = make.jwt({ sub: victim.id, scopes: ['write:users'] });
        const bearers = [key.key, oauth.access_token, jwt];
        const attempts = [
          ...bearers.flatMap((t) => [
            fetch(`${server.url}/v2/users/me`, {
              method: 'PATCH',
              headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ password: NEW_PASSWORD }),
            }),
            fetch(`${server.url}/v2/users/me`, {
              method: 'PATCH',
              headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ email: `owned-${victim.id}@evil.example` }),
            }),
          ]),
          request(victim.browser, 'PATCH', '/v2/users/me', { body: { password: NEW_PASSWORD } }),
          request(victim.browser, 'PATCH', '/v2/users/me', { body: { email: `owned2-${victim.id}@evil.example` } }),
        ];
        const answers = await Promise.all(attempts);
        for (const [i, res] of answers.entries()) {
          const field = i % 2 === 0 ? 'password' : 'email';
          await expectApiError(res, 400, 'VALIDATION_FAILED', { field, message: /Settings/ });
        }
        // Nothing changed: the old password still signs in, the new one does not, the email is the same.
        assert.notEqual(
          (await signIn(new Browser(server.url), victim.email, NEW_PASSWORD)).status,
          303,
          'the new password does not sign in',
        );
        assert.equal((await signIn(new Browser(server.url), victim.email, victim.password)).status, 303);
        const me = await request(server, 'GET', '/v2/users/me', { bearer: key.key });
        assert.equal(me.body!['email'], victim.email);
        // A profile change still works with the same credential.
        const renamed = await request(server, 'PATCH', '/v2/users/me', { bearer: key.key, body: { name: 'Still me' } });
        assert.equal(renamed.status, 200);
        assert.equal(renamed.body!['name'], 'Still me');
      },
    );

    it("not even admin:all sets another account's password or email over the API -> 400", async () => {
      const [admin, victim] = await Promise.all([
        make.user({ admin: true, tag: 'pw-admin' }),
        make.user({ tag: 'pw-victim' }),
      ]);
      const adminKey = (await make.apiKey(admin, ['admin:all'])).key;
      const [pw, email] = await Promise.all([
        fetch(`${server.url}/v2/users/${victim.id}`, {
          method: 'PATCH',
          headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ password: NEW_PASSWORD }),
        }),
        fetch(`${server.url}/v2/users/${victim.id}`, {
          method: 'PATCH',
          headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: 'x@evil.example' }),
        }),
      ]);
      await expectApiError(pw, 400, 'VALIDATION_FAILED', { field: 'password' });
      await expectApiError(email, 400, 'VALIDATION_FAILED', { field: 'email' });
      assert.equal((await signIn(new Browser(server.url), victim.email, victim.password)).status, 303);
    });
  });

  describe('an application never holds more than the principal that registers or changes it', () => {
    it(
      'a key, OAuth token or JWT holding only write:applications cannot register a service app with write:users -> ' +
        '403',
      async () => {
        const alice = await make.user({ tag: 'apps-escalate' });
        const [key, oauth] = await Promise.all([
          make.apiKey(alice, ['write:applications']),
          make.oauthToken(alice, ['write:applications']),
        ]);
        const jwt = make.jwt({ sub: alice.id, scopes: ['write:applications'] });
        const body = {
          name: 'Escalator',
          type: 'service',
          redirect_uris: [],
          scopes: ['read:users', 'write:users', 'delete:users'],
        };
        const answers = await Promise.all(
          [key.key, oauth.access_token, jwt].map((t) =>
            fetch(`${server.url}/oauth/applications`, {
              method: 'POST',
              headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
              body: JSON.stringify(body),
            }),
          ),
        );
        for (const res of answers) await expectApiError(res, 403, 'FORBIDDEN', { message: /write:users/ });
        const apps = await request(server, 'GET', '/oauth/applications', {
          bearer: (await make.apiKey(alice, ['read:applications'])).key,
        });
        assert.deepEqual(apps.body!['data'], [], 'nothing was registered');
        // Within what the key holds, registration still works.
        const ok = await request(server, 'POST', '/oauth/applications', {
          bearer: key.key,
          body: { ...body, scopes: ['write:applications'] },
        });
        assert.equal(ok.status, 201, JSON.stringify(ok.body));
      },
    );

    it(
      'widening scopes, changing redirect URIs or rotating the secret of an app beyond the key -> 403, nothing ' +
        'changed',
      async () => {
        const alice = await make.user({ tag: 'apps-update' });
        const app = await registerApp(alice.browser, {
          name: 'Wide',
          redirect_uris: ['https://client.example/cb'],
          scopes: ['read:users', 'write:users'],
        });
        const narrow = (await make.apiKey(alice, ['write:applications', 'read:users'])).key;
        const path = `/oauth/applications/${app.client_id}`;
        const send = (method: string, p: string, body?: unknown) =>
          fetch(`${server.url}${p}`, {
            method,
            headers: { Authorization: `Bearer ${narrow}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
        const [widen, redirect, rotate] = await Promise.all([
          send('PATCH', path, { scopes: ['read:users', 'write:users', 'delete:users'] }),
          send('PATCH', path, { redirect_uris: ['https://evil.example/steal'] }),
          send('POST', `${path}/secret`),
        ]);
        await expectApiError(widen, 403, 'FORBIDDEN');
        await expectApiError(redirect, 403, 'FORBIDDEN');
        await expectApiError(rotate, 403, 'FORBIDDEN');
        const now = (await (await alice.browser.get(`/oauth/applications/${app.client_id}`)).json()) as {
          redirect_uris: string[];
          scopes: string[];
        };
        assert.deepEqual(now.redirect_uris, ['https://client.example/cb']);
        assert.deepEqual(now.scopes, ['read:users', 'write:users']);
        // The old secret still works: it was not rotated.
        const cc = await request(server, 'POST', '/oauth/introspect', {
          body: { token: 'x' },
          headers: { Authorization: basicAuth(app) },
        });
        assert.equal(cc.status, 200);
        // A rename needs no more than write:applications.
        const rename = await send('PATCH', path, { name: 'Renamed' });
        assert.equal(rename.status, 200);
      },
    );
  });

  describe('only admin:all raises a key above the rate-limit policy', () => {
    it(
      'a user (dashboard cookie) asking for 10^8/h is refused with 403; within the policy is fine; admin:all ' + 'may',
      async () => {
        const [alice, admin] = await Promise.all([
          make.user({ tag: 'rl-user' }),
          make.user({ admin: true, tag: 'rl-admin' }),
        ]);
        const huge = { name: 'flood', scopes: ['read:users'], rate_limit: { hourly: 100_000_000, burst: 1_000_000 } };
        const [cookie, ownKey] = await Promise.all([
          request(alice.browser, 'POST', '/v2/api-keys', { body: huge }),
          (async () =>
            request(server, 'POST', '/v2/api-keys', {
              bearer: (await make.apiKey(alice, ['read:users'])).key,
              body: huge,
            }))(),
        ]);
        await expectApiError(cookie, 403, 'FORBIDDEN', { message: /rate limit/i });
        assert.equal(ownKey.status, 403); // a plain key may not manage keys at all
        const modest = await request(alice.browser, 'POST', '/v2/api-keys', {
          body: {
            ...huge,
            rate_limit: { hourly: 10, burst: 1 },
          },
        });
        assert.equal(modest.status, 201, await modest.text());
        const adminKey = (await make.apiKey(admin, ['admin:all'])).key;
        const raised = await request(server, 'POST', '/v2/api-keys', { bearer: adminKey, body: huge });
        assert.equal(raised.status, 201, JSON.stringify(raised.body));
      },
    );
  });

  describe('a demoted admin keeps nothing of admin:all', () => {
    it(
      'OAuth token, refreshed token, service-app token, JWT, key and cookie lose admin:all; grants and keys carrying ' +
        'it are revoked',
      async () => {
        const [demoted, other] = await Promise.all([
          make.user({ admin: true, tag: 'demoted' }),
          make.user({ admin: true, tag: 'demoter' }),
        ]);
        const [oauth, service, key, keepKey] = await Promise.all([
          make.oauthToken(demoted, ['admin:all']),
          make.serviceToken(demoted, ['admin:all']),
          make.apiKey(demoted, ['admin:all']),
          make.apiKey(demoted, ['read:users']),
        ]);
        const jwt = make.jwt({ sub: demoted.id, scopes: ['admin:all'] });
        const otherKey = (await make.apiKey(other, ['admin:all'])).key;
        for (const t of [oauth.access_token, service.access_token, jwt, key.key]) {
          assert.deepEqual((await selfTest(server, t)).body!['scopes'], ['admin:all']);
        }

        const demote = await request(server, 'PATCH', `/v2/users/${demoted.id}`, {
          bearer: otherKey,
          body: { is_admin: false },
        });
        assert.equal(demote.status, 200, JSON.stringify(demote.body));
        assert.equal(demote.body!['is_admin'], false);

        // Every bearer credential now acts without admin:all, in parallel, and none can re-promote.
        const bearers = [oauth.access_token, service.access_token, jwt];
        const [tests, promotions, lists] = await Promise.all([
          Promise.all(bearers.map((t) => selfTest(server, t))),
          Promise.all(
            bearers.map((t) =>
              request(server, 'PATCH', `/v2/users/${demoted.id}`, { bearer: t, body: { is_admin: true } }),
            ),
          ),
          Promise.all(bearers.map((t) => request(server, 'GET', `/v2/users/${other.id}`, { bearer: t }))),
        ]);
        for (const [i, res] of tests.entries()) {
          // The OAuth grant carrying admin:all was revoked; the others hold what the account may hold now.
          if (i === 0) assert.equal(res.status, 401, `oauth token: ${JSON.stringify(res.body)}`);
          else assert.deepEqual(res.body!['scopes'], [], `credential ${i}: ${JSON.stringify(res.body)}`);
        }
        for (const res of promotions) assert.ok(res.status === 401 || res.status === 403, JSON.stringify(res.body));
        for (const res of lists) assert.ok(res.status === 401 || res.status === 403, JSON.stringify(res.body));

        // The key carrying admin:all is revoked; a key without it keeps working.
        assert.equal((await selfTest(server, key.key)).status, 401);
        assert.equal((await selfTest(server, keepKey.key)).status, 200);
        // The refresh token died with its grant.
        const refreshed = await tokenRequest(server, oauth.app, {
          grant_type: 'refresh_token',
          refresh_token: oauth.refresh_token,
        });
        assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
        assert.equal(refreshed.body['error'], 'invalid_grant');
        // The service app no longer gets admin:all by client_credentials.
        const asked = await clientCredentials(server, service.app, 'admin:all');
        assert.equal(asked.status, 400, JSON.stringify(asked.body));
        assert.equal(asked.body['error'], 'invalid_scope');
        const fresh = await clientCredentials(server, service.app);
        if (fresh.status === 200) {
          assert.doesNotMatch(String(fresh.body['scope'] ?? ''), /admin:all/);
          assert.deepEqual((await selfTest(server, String(fresh.body['access_token']))).body!['scopes'], []);
        }
        // The dashboard cookie cannot re-promote either; the account is still not an admin.
        const cookie = await request(demoted.browser, 'PATCH', '/v2/users/me', { body: { is_admin: true } });
        assert.equal(cookie.status, 403);
        assert.equal(
          (await request(server, 'GET', `/v2/users/${demoted.id}`, { bearer: otherKey })).body!['is_admin'],
          false,
        );
      },
    );
  });

  describe('a token lives only while its application does', () => {
    it(
      'after the application is deleted, its auth-code and client_credentials tokens answer 401 and introspect ' +
        'inactive',
      async () => {
        const [dev, person, admin] = await Promise.all([
          make.user({ tag: 'app-del' }),
          make.user({ tag: 'app-del-person' }),
          make.user({ admin: true, tag: 'rs' }),
        ]);
        const [user, svc] = await Promise.all([
          make.oauthToken(person, ['read:users']),
          make.serviceToken(dev, ['read:users']),
        ]);
        const rs = await registerApp(admin.browser, {
          name: 'Resource server',
          type: 'resource_server',
          redirect_uris: [],
          scopes: [],
        });
        for (const t of [user.access_token, svc.access_token]) assert.equal((await selfTest(server, t)).status, 200);
        const deleted = await Promise.all([
          request(dev.browser, 'DELETE', `/oauth/applications/${svc.app.client_id}`),
          request(server, 'DELETE', `/oauth/applications/${user.app.client_id}`, {
            bearer: (await make.apiKey(admin, ['admin:all'])).key,
          }),
        ]);
        for (const res of deleted) assert.equal(res.status, 204);
        for (const t of [user.access_token, svc.access_token]) {
          const [res, intro] = await Promise.all([
            selfTest(server, t),
            request(server, 'POST', '/oauth/introspect', {
              body: { token: t },
              headers: { Authorization: basicAuth(rs) },
            }),
          ]);
          assert.equal(res.status, 401, JSON.stringify(res.body));
          assert.deepEqual(intro.body, { active: false });
        }
      },
    );
  });
});

describe('attacks with JWT access tokens (ACCESS_TOKEN_FORMAT=jwt)', () => {
  let server: TestServer;
  let make: World;
  let admin: TestUser;
  let rs: { client_id: string; client_secret?: string };
  /** A second instance on the same database (as behind a load balancer), for "whatever instance issued it". */
  let other: TestServer;

  before(async () => {
    const env = { ...credentialServerEnv, ACCESS_TOKEN_FORMAT: 'jwt' };
    server = await startTestServer({ env });
    other = await startTestServer({
      dir: server.dir,
      database: server.database,
      env: { ...env, ISSUER: server.config.ISSUER },
    });
    make = worldOn(server);
    admin = await make.user({ admin: true, tag: 'jwt-admin' });
    rs = await registerApp(admin.browser, {
      name: 'Resource server',
      type: 'resource_server',
      redirect_uris: [],
      scopes: [],
    });
  });
  after(async () => {
    await other.close(); // before the shared database is dropped
    await server.dispose();
  });

  const introspect = (t: string) =>
    request(server, 'POST', '/oauth/introspect', { body: { token: t }, headers: { Authorization: basicAuth(rs) } });

  it("a revoked grant's JWT access token answers 401 at /v2 and introspects inactive", async () => {
    const person = await make.user({ tag: 'jwt-consent' });
    const { access_token: at, app } = await make.oauthToken(person, ['read:users']);
    assert.equal(at.split('.').length, 3, 'a JWT access token');
    assert.equal((await selfTest(server, at)).status, 200);
    assert.equal((await introspect(at)).body['active'], true);
    const revoked = await request(person.browser, 'DELETE', `/v2/consents/${app.client_id}`);
    assert.equal(revoked.status, 204);
    const [res, intro] = await Promise.all([selfTest(server, at), introspect(at)]);
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.deepEqual(intro.body, { active: false });
  });

  it(
    "a deleted application's JWT access tokens (auth-code and client_credentials) answer 401 and introspect " +
      'inactive',
    async () => {
      const [dev, person] = await Promise.all([make.user({ tag: 'jwt-del' }), make.user({ tag: 'jwt-del-person' })]);
      const [user, svc] = await Promise.all([
        make.oauthToken(person, ['read:users']),
        make.serviceToken(dev, ['read:users']),
      ]);
      for (const t of [user.access_token, svc.access_token]) assert.equal((await selfTest(server, t)).status, 200);
      const adminKey = (await make.apiKey(admin, ['admin:all'])).key;
      await Promise.all([
        request(server, 'DELETE', `/oauth/applications/${svc.app.client_id}`, { bearer: adminKey }),
        request(server, 'DELETE', `/oauth/applications/${user.app.client_id}`, { bearer: adminKey }),
      ]);
      for (const t of [user.access_token, svc.access_token]) {
        const [res, intro] = await Promise.all([selfTest(server, t), introspect(t)]);
        assert.equal(res.status, 401, JSON.stringify(res.body));
        assert.deepEqual(intro.body, { active: false });
      }
    },
  );

  it(
    "another instance that never saw them refuses a deleted application's JWT access tokens, and issues it " + 'none',
    async () => {
      const dev = await make.user({ tag: 'jwt-other' });
      const svc = await make.serviceToken(dev, ['read:users']);
      const deleted = await request(dev.browser, 'DELETE', `/oauth/applications/${svc.app.client_id}`);
      assert.equal(deleted.status, 204);
      const [res, intro, issued] = await Promise.all([
        selfTest(other, svc.access_token),
        request(other, 'POST', '/oauth/introspect', {
          body: { token: svc.access_token },
          headers: { Authorization: basicAuth(rs) },
        }),
        clientCredentials(other, svc.app),
      ]);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.deepEqual(intro.body, { active: false });
      assert.equal(issued.status, 401, JSON.stringify(issued.body));
      assert.equal(issued.body['error'], 'invalid_client');
    },
  );
});
