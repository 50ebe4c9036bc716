import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { createTestDatabase, testBackend, type TestDatabase } from '../support/database.ts';
import { Browser, authorize, registerApp, signUp } from '../support/http.ts';
import type { RegisteredApp } from '../support/oauth.ts';
import type { ServerProcess } from '../reliability/server-process.ts';
import {
  assertRefusedWithinOneSecond,
  startInstances,
  untilRefused,
  type InstanceSpec,
  type Probe,
} from './instances.ts';
import { request, TEST_JWT_SECRET, uniqueEmail } from '../support/world.ts';

// Revocation on one instance holds on every other within 1 s: each instance caches what it checked
// for CREDENTIAL_CACHE_TTL (10 s), so the change has to reach them. Real processes on one database:
// A revokes; B and C run the defaults, D never hears a notification (only its poll of
// credential_events tells it) and, on PostgreSQL, E polls once a minute (only LISTEN/NOTIFY can
// tell it in time). On SQLite there is no NOTIFY: the poll is the whole relay.
const REDIRECT_URI = 'https://client.example/callback';
const PASSWORD = 'a long test passphrase';

const specs: (InstanceSpec & { name: string })[] = [
  { name: 'A' },
  { name: 'B' },
  { name: 'C' },
  { name: 'D (poll only)', env: { CREDENTIAL_EVENTS_LISTEN: '0' } },
  ...(testBackend === 'postgres'
    ? [{ name: 'E (notifications only)', env: { CREDENTIAL_EVENTS_POLL_MS: '60000' } }]
    : []),
];

describe(`a revocation holds on every instance within 1 s (${testBackend})`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-relay-'));
  let database: TestDatabase;
  let instances: ServerProcess[] = [];
  let a: ServerProcess;

  const nameOf = (url: string) => specs[instances.findIndex((s) => s.url === url)]!.name;
  /** One probe per instance (all but A unless `withA`) and per check, each polled on its own. */
  const probes = (checks: Record<string, (url: string) => Promise<boolean>>, withA = false): Probe[] =>
    instances.slice(withA ? 0 : 1).flatMap((s) =>
      Object.entries(checks).map(([what, refused]) => ({
        label: `${nameOf(s.url)}: ${what}`,
        refused: () => refused(s.url),
      })),
    );

  before(async () => {
    database = await createTestDatabase(dir);
    instances = await startInstances(database.url, specs);
    a = instances[0]!;
  });
  after(async () => {
    await Promise.all(instances.map((s) => s.kill('SIGTERM')));
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Someone signed up on A, with the dashboard session in `browser`. */
  async function person(tag: string) {
    const email = uniqueEmail(tag);
    const browser = new Browser(a.url);
    await signUp(browser, email, PASSWORD);
    return { email, browser };
  }

  const authTest = async (url: string, token: string) =>
    (await request({ url }, 'GET', '/v2/auth/test', { bearer: token })).status;

  /** Accepted on every instance, twice: an instance remembers a key from its second read on. */
  async function acceptedEverywhere(...tokens: string[]) {
    for (const s of instances)
      for (const token of tokens)
        for (let i = 0; i < 2; i++)
          assert.equal(await authTest(s.url, token), 200, `not accepted on ${nameOf(s.url)} before the revocation`);
  }

  async function apiKey(browser: Browser, scopes: string[]) {
    const res = await browser.postJson('/v2/api-keys', { name: 'relay', scopes });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; key: string };
  }

  /** Whether `token` introspects as active on the instance at `url`, asked by the resource server `rs`. */
  async function activeAt(url: string, rs: RegisteredApp, token: string): Promise<boolean> {
    const res = await fetch(`${url}/oauth/introspect`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${rs.client_id}:${rs.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { active: boolean }).active;
  }

  /** A resource server of the built-in API, registered on A. */
  async function resourceServer(): Promise<RegisteredApp> {
    return registerApp((await person('rs-dev')).browser, {
      name: 'Relay RS',
      type: 'resource_server',
      redirect_uris: [],
      scopes: ['read:users'],
    });
  }

  /** A person's OAuth access token for a fresh web application, through the real pages. */
  async function oauthToken() {
    const dev = await person('dev');
    const app = await registerApp(dev.browser, {
      name: 'Relay client',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users'],
    });
    const user = await person('user');
    const { redirect } = await authorize(new Browser(a.url), {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 's',
      email: user.email,
      password: PASSWORD,
    });
    const res = await fetch(`${a.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        code: redirect.searchParams.get('code'),
        client_id: app.client_id,
        client_secret: app.client_secret,
        redirect_uri: REDIRECT_URI,
      }),
    });
    assert.equal(res.status, 200);
    const { access_token } = (await res.json()) as { access_token: string };
    return { app, user, accessToken: access_token };
  }

  it('a revoked API key', async () => {
    const owner = await person('key');
    const { id, key } = await apiKey(owner.browser, ['read:users']);
    await acceptedEverywhere(key);
    const res = await owner.browser.request(`/v2/api-keys/${id}`, { method: 'DELETE' });
    assert.equal(res.status, 200);
    assertRefusedWithinOneSecond(
      await untilRefused(probes({ 'the key': async (url) => (await authTest(url, key)) === 401 })),
    );
  });

  it('a revoked OAuth access token, at /v2 and at introspection', async () => {
    const { app, accessToken } = await oauthToken();
    const rs = await resourceServer();
    await acceptedEverywhere(accessToken);
    for (const s of instances) assert.equal(await activeAt(s.url, rs, accessToken), true);
    const res = await fetch(`${a.url}/oauth/revoke`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: accessToken }).toString(),
    });
    assert.equal(res.status, 200);
    const checks = {
      'the token': async (url: string) => (await authTest(url, accessToken)) === 401,
      'the token introspected': async (url: string) => !(await activeAt(url, rs, accessToken)),
    };
    assertRefusedWithinOneSecond(await untilRefused(probes(checks)));
  });

  it('a revoked consent, at /v2 and at introspection', async () => {
    const { app, user, accessToken } = await oauthToken();
    const rs = await resourceServer();
    await acceptedEverywhere(accessToken);
    for (const s of instances) assert.equal(await activeAt(s.url, rs, accessToken), true);
    const res = await user.browser.request(`/v2/consents/${app.client_id}`, { method: 'DELETE' });
    assert.ok(res.status === 200 || res.status === 204, `consent revocation answered ${res.status}`);
    const checks = {
      'the token': async (url: string) => (await authTest(url, accessToken)) === 401,
      'the token introspected': async (url: string) => !(await activeAt(url, rs, accessToken)),
    };
    assertRefusedWithinOneSecond(await untilRefused(probes(checks)));
  });

  it('a deleted user: their API key, and a shared-secret JWT no longer acts as them', async () => {
    const doomed = await person('doomed');
    const { key } = await apiKey(doomed.browser, ['read:users', 'delete:users']);
    const me = (await (
      await fetch(`${a.url}/v2/users/me`, { headers: { Authorization: `Bearer ${key}` } })
    ).json()) as { id: string };
    // A trusted service's JWT stays valid (its subject need not be an account), but acts for the
    // account only while it exists: once it is gone, a JWT naming it holds nothing (403).
    const token = jwt.sign({ sub: me.id, scopes: ['read:users'] }, TEST_JWT_SECRET, {
      expiresIn: '1h',
      issuer: 'api.example.com',
    });
    const usersMe = async (url: string) => {
      const res = await fetch(`${url}/v2/users/me`, { headers: { Authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      return res.status;
    };
    await acceptedEverywhere(key);
    for (const s of instances)
      assert.equal(await usersMe(s.url), 200, `the JWT does not act as the account on ${nameOf(s.url)}`);
    const res = await fetch(`${a.url}/v2/users/me`, { method: 'DELETE', headers: { Authorization: `Bearer ${key}` } });
    assert.equal(res.status, 204);
    assertRefusedWithinOneSecond(
      await untilRefused(
        probes({
          'the key': async (url) => (await authTest(url, key)) === 401,
          'the JWT as the account': async (url) => (await usersMe(url)) === 403,
        }),
      ),
    );
  });

  it('a deleted application: B issues it no more tokens, and the tokens B issued are refused everywhere', async () => {
    const dev = await person('service-dev');
    const app = await registerApp(dev.browser, {
      name: 'Relay service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    const rs = await resourceServer();
    const b = instances[1]!;
    const clientCredentials = async (url: string) => {
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: app.client_id,
          client_secret: app.client_secret!,
          scope: 'read:users',
        }).toString(),
      });
      const body = (await res.json()) as { access_token?: string; error?: string };
      return { status: res.status, body };
    };
    const introspectActive = (url: string, token: string) => activeAt(url, rs, token);
    const issuedByB: string[] = [];
    for (let i = 0; i < 3; i++) {
      const got = await clientCredentials(b.url);
      assert.equal(got.status, 200);
      issuedByB.push(got.body.access_token!);
    }
    await acceptedEverywhere(...issuedByB);
    for (const s of instances) assert.equal(await introspectActive(s.url, issuedByB[0]!), true);

    const res = await dev.browser.request(`/oauth/applications/${app.client_id}`, { method: 'DELETE' });
    assert.equal(res.status, 204);
    const issuing = untilRefused([
      {
        label: 'B: client_credentials',
        refused: async () => {
          const got = await clientCredentials(b.url);
          return got.status === 401 && got.body.error === 'invalid_client';
        },
      },
    ]);
    // What B issued is refused by every instance, A included. (A token B issues in the moment
    // before the deletion reaches it is refused by the check, at use, that its application exists.)
    const checks: Record<string, (url: string) => Promise<boolean>> = {};
    for (const [i, token] of issuedByB.entries()) {
      checks[`token ${i} at /v2`] = async (url) => (await authTest(url, token)) === 401;
      checks[`token ${i} introspected`] = async (url) => !(await introspectActive(url, token));
    }
    const used = untilRefused(probes(checks, true));
    assertRefusedWithinOneSecond([...(await issuing), ...(await used)]);
  });

  it('no instance logged an error', () => {
    for (const s of instances) assert.deepEqual(s.errors(), [], `${nameOf(s.url)} logged errors`);
  });
});
