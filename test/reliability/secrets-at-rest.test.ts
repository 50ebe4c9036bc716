/**
 * Secrets at rest (see SECURITY.md): run every flow once on one
 * server, collecting every secret the run saw (passwords, API keys, client secrets, access and
 * refresh tokens, authorization codes, PKCE verifiers, TOTP seeds and recovery codes, webhook
 * secrets, session cookies, JWTs), then dump the database and search every value for every
 * secret and its obvious variants. Then the server's own key material: nothing in a dump may
 * sign a token or a cookie the server accepts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as OTPAuth from 'otpauth';
import { SignJWT, importJWK, type JWK } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Browser, authorize, authorizeUrl, csrfFrom, registerApp, signUp } from '../support/http.ts';
import { signIn } from '../support/api.ts';
import { basicAuth, introspect, pkcePair, revoke, token, type RegisteredApp } from '../support/oauth.ts';
import { sql } from 'kysely';
import { dumpDatabase, sqliteFileOf, type DumpedValue } from '../support/db-dump.ts';
import { WebhookReceiver, standardAccepts, documentedAccepts } from '../support/webhook-receiver.ts';
import { sessionPrincipal } from '../../src/domain/principal.ts';
import { worldOn, credentialServerEnv, TEST_JWT_SECRET, REDIRECT_URI, request, uniqueEmail } from '../support/world.ts';

/** Every secret the run saw, by label, with the variants a careless store might hold. */
class SecretLog {
  readonly entries: { label: string; value: string; variants: string[] }[] = [];

  add(label: string, value: unknown): string {
    assert.equal(typeof value, 'string', `${label} is a string`);
    const v = value as string;
    assert.ok(v.length >= 8, `${label} looks like a real secret: ${v}`);
    const variants = new Set([v]);
    const prefixed = /^([a-z]+)_(.+)$/.exec(v);
    if (prefixed) {
      variants.add(prefixed[2]!); // after the prefix (lkcs_…, whsec_…, lk_<id>_<secret>)
      variants.add(v.slice(v.lastIndexOf('_') + 1)); // the secret part of lk_<id>_<secret>
    }
    if (v.startsWith('whsec_')) {
      const key = Buffer.from(v.slice(6), 'base64');
      variants.add(key.toString('hex'));
      variants.add(key.toString('base64url'));
    }
    if (/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/i.test(v)) {
      for (const c of [v, v.replaceAll('-', '')]) {
        variants.add(c.toLowerCase());
        variants.add(c.toUpperCase());
      }
    }
    for (const x of [...variants]) {
      variants.add(Buffer.from(x).toString('hex'));
      variants.add(Buffer.from(x).toString('base64'));
      variants.add(Buffer.from(x).toString('base64url'));
    }
    // Short fragments would match by chance (a TOTP code in a timestamp); every secret here is long.
    this.entries.push({ label, value: v, variants: [...variants].filter((x) => x.length >= 12) });
    return v;
  }

  /** Every cookie a browser holds (session ids, signatures, CSRF tokens, OAuth interaction ids). */
  cookies(who: string, browser: Browser): void {
    for (const [name, value] of browser.jar.entries())
      if (value.length >= 12) this.add(`${who} cookie ${name}`, decodeURIComponent(value));
  }

  /** [label, where] for every secret found in `haystack`. */
  findIn(haystack: { where: string; text: string }[]): string[] {
    const found: string[] = [];
    for (const e of this.entries) {
      for (const h of haystack) {
        const hit = e.variants.find((x) => h.text.includes(x));
        if (hit) found.push(`${e.label} (${hit === e.value ? 'as is' : `variant ${hit.slice(0, 16)}…`}) in ${h.where}`);
      }
    }
    return found;
  }
}

const newPassword = () => `pw-${crypto.randomBytes(12).toString('base64url')}`;
const API_KEY = /lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}/;

describe('secrets at rest after a run of every flow', () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  const secrets = new SecretLog();
  let dump: DumpedValue[];
  /** A session cookie of the run and its signature (for the cookie-key check). */
  let sessionCookie: { value: string; sig: string };
  let apiKey: string;
  let userId: string;
  let webApp: RegisteredApp;

  before(async () => {
    receiver = await WebhookReceiver.start();
    server = await startTestServer({ env: { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1' } });
    secrets.add('JWT_SECRET', TEST_JWT_SECRET);
    if (server.config.SECRETS_KEY) secrets.add('SECRETS_KEY', server.config.SECRETS_KEY.toString('base64'));
    else secrets.add('SECRETS_KEY file', fs.readFileSync(server.config.secretsKeyFile, 'utf8').trim());
  });
  after(async () => {
    await server.dispose();
    await receiver.close();
  });

  it('runs every flow once (collecting the secrets it sees)', async () => {
    // Sign-up and login through the forms.
    const alice = { email: uniqueEmail('alice'), password: secrets.add('alice password', newPassword()) };
    const aliceBrowser = new Browser(server.url);
    await signUp(aliceBrowser, alice.email, alice.password);
    secrets.cookies('alice sign-up', aliceBrowser);
    const again = new Browser(server.url);
    assert.equal((await signIn(again, alice.email, alice.password)).status, 303);
    secrets.cookies('alice login', again);

    // Two-factor enrolment: the TOTP seed and ten recovery codes.
    const security = async (path: string, fields: Record<string, string> = {}) =>
      aliceBrowser.postForm(path, {
        _csrf: csrfFrom(await (await aliceBrowser.get('/settings/security')).text()),
        ...fields,
      });
    const enroll = await (await security('/settings/security/2fa/begin')).text();
    const seed = secrets.add('TOTP seed', /id="totp-secret">([A-Z2-7]+)</.exec(enroll)![1]);
    const otpauthUri = /otpauth:\/\/totp\/[^"'<\s]+/.exec(enroll)?.[0];
    if (otpauthUri) secrets.add('otpauth URI', otpauthUri.replace(/&amp;/g, '&'));
    const totp = (at = Date.now()) =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seed) }).generate({ timestamp: at });
    const confirming = await security('/settings/security/2fa/confirm', { code: totp() });
    assert.equal(confirming.status, 303);
    const confirmed = (await aliceBrowser.follow(confirming)).res;
    assert.equal(confirmed.status, 200);
    secrets.cookies('alice recovery codes on screen', aliceBrowser);
    const codes = [...(await confirmed.text()).matchAll(/<code>([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})<\/code>/g)].map(
      (m) => m[1]!,
    );
    assert.equal(codes.length, 10);
    for (const [i, c] of codes.entries()) secrets.add(`recovery code ${i}`, c);

    // Sign in with the second factor: a TOTP code (next time step: each is accepted once), and a recovery code.
    for (const code of [totp(Date.now() + 30_000), codes[0]!]) {
      const b = new Browser(server.url);
      assert.equal((await signIn(b, alice.email, alice.password)).status, 303);
      secrets.cookies('alice pending 2FA', b);
      const page = await (await b.get('/login/2fa')).text();
      let res = await b.postForm('/login/2fa', { _csrf: csrfFrom(page), code });
      if (res.status === 401 && code !== codes[0])
        res = await b.postForm('/login/2fa', { _csrf: csrfFrom(page), code: totp() });
      assert.equal(res.status, 303, `second factor ${code}`);
      secrets.cookies('alice 2FA login', b);
    }

    // Password change (the new password is a secret too).
    const changed = secrets.add('alice new password', newPassword());
    const change = await security('/settings/security/password', {
      current_password: alice.password,
      new_password: changed,
    });
    assert.equal(change.status, 200);

    // A developer: applications (web, spa, service), with the web secret rotated.
    const dev = new Browser(server.url);
    const devPassword = secrets.add('dev password', newPassword());
    const devEmail = uniqueEmail('dev');
    await signUp(dev, devEmail, devPassword);
    secrets.cookies('dev', dev);
    userId = (await server.built.services.accounts.authenticate(devEmail, devPassword))!.id;
    webApp = await registerApp(dev, {
      name: 'Web',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users', 'write:projects'],
    });
    secrets.add('web client secret (first)', webApp.client_secret);
    const rotated = await request(dev, 'POST', `/oauth/applications/${webApp.client_id}/secret`);
    assert.equal(rotated.status, 200);
    webApp = {
      client_id: webApp.client_id,
      client_secret: secrets.add(
        'web client secret (rotated)',
        ((await rotated.json()) as { client_secret: string }).client_secret,
      ),
    };
    const spa = await registerApp(dev, {
      name: 'SPA',
      type: 'spa',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users'],
    });
    const service = await registerApp(dev, {
      name: 'Service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    secrets.add('service client secret', service.client_secret);

    // A webhook endpoint, its secret rotated, then deliveries (the key events below).
    const hook = await request(dev, 'POST', '/v2/webhooks', { body: { url: receiver.url(), events: ['*'] } });
    assert.equal(hook.status, 201);
    const endpoint = (await hook.json()) as { id: string; secret: string };
    secrets.add('webhook secret (first)', endpoint.secret);
    const hookRotated = await request(dev, 'POST', `/v2/webhooks/${endpoint.id}/secret`);
    const webhookSecret = secrets.add(
      'webhook secret (rotated)',
      ((await hookRotated.json()) as { secret: string }).secret,
    );

    // API keys: created from the API and from the dashboard form, one rotated; each used.
    const created = (await (
      await request(dev, 'POST', '/v2/api-keys', { body: { name: 'api', scopes: ['read:users', 'write:projects'] } })
    ).json()) as { id: string; key: string };
    secrets.add('API key (API)', created.key);
    const rotatedKey = (await (await request(dev, 'POST', `/v2/api-keys/${created.id}/rotate`)).json()) as {
      key: string;
    };
    apiKey = secrets.add('API key (rotated)', rotatedKey.key);
    const formPage = await (await dev.get('/settings/api-keys/new')).text();
    const formKey = await dev.postForm('/settings/api-keys', {
      _csrf: csrfFrom(formPage),
      name: 'form key',
      scopes: 'read:users',
      expires: 'never',
    });
    assert.equal(formKey.status, 303, 'the form redirects to the page that shows the key once');
    const shown = API_KEY.exec(await (await dev.get(formKey.headers.get('location')!)).text())?.[0];
    assert.ok(shown, 'the dashboard shows the new key once');
    secrets.add('API key (dashboard)', shown);
    for (const key of [created.key, rotatedKey.key, shown]) {
      const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await server.built.webhookWorker.drain();
    assert.ok(receiver.requests.length >= 2, 'webhook deliveries arrived');
    assert.ok(
      receiver.requests.every((r) => documentedAccepts(r, webhookSecret) && standardAccepts(r, webhookSecret)),
      'signed with the rotated secret',
    );

    // OAuth: the code flow (consent) with refresh, a PKCE flow for the spa, revocation.
    const carol = { email: uniqueEmail('carol'), password: secrets.add('carol password', newPassword()) };
    await signUp(new Browser(server.url), carol.email, carol.password);
    const person = new Browser(server.url);
    const { redirect } = await authorize(person, {
      clientId: webApp.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users write:projects',
      state: 'st',
      ...carol,
    });
    secrets.cookies('carol OAuth', person);
    const code = secrets.add('authorization code', redirect.searchParams.get('code'));
    const exchanged = await token(server, webApp, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(exchanged.status, 200);
    secrets.add('access token', exchanged.body['access_token']);
    const refreshed = await token(server, webApp, {
      grant_type: 'refresh_token',
      refresh_token: secrets.add('refresh token', exchanged.body['refresh_token']),
    });
    assert.equal(refreshed.status, 200);
    secrets.add('access token (refreshed)', refreshed.body['access_token']);
    secrets.add('refresh token (rotated)', refreshed.body['refresh_token']);
    assert.equal((await introspect(server, webApp, refreshed.body['access_token'] as string))['active'], true);
    const used = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${refreshed.body['access_token']}` },
    });
    assert.equal(used.status, 200);
    await used.arrayBuffer();
    assert.equal(await revoke(server, webApp, exchanged.body['access_token'] as string), 200);

    const pkce = pkcePair();
    secrets.add('PKCE verifier', pkce.verifier);
    const spaFlow = await authorize(person, {
      clientId: spa.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 's2',
      codeChallenge: pkce.challenge,
      ...carol,
    });
    const spaTokens = await token(server, spa, {
      grant_type: 'authorization_code',
      code: secrets.add('authorization code (spa)', spaFlow.redirect.searchParams.get('code')),
      redirect_uri: REDIRECT_URI,
      code_verifier: pkce.verifier,
    });
    assert.equal(spaTokens.status, 200);
    secrets.add('spa access token', spaTokens.body['access_token']);
    secrets.add('spa refresh token', spaTokens.body['refresh_token']);
    secrets.cookies('carol OAuth (spa)', person);

    // Client credentials, with the rotated secret in HTTP Basic.
    const cc = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(cc.status, 200);
    secrets.add('client_credentials token', cc.body['access_token']);
    const ccWeb = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basicAuth(webApp) },
    });
    assert.equal(
      ccWeb.body['error'],
      'unauthorized_client',
      'a web app may not use client_credentials, but its rotated secret authenticated it',
    );

    // A shared-secret JWT, signed as documented.
    const jwt = secrets.add('shared-secret JWT', worldOn(server).jwt({ sub: userId, scopes: ['read:users'] }));
    const jwtRes = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${jwt}` } });
    assert.equal(jwtRes.status, 200);
    await jwtRes.arrayBuffer();
    secrets.add('JWT signature', jwt.split('.')[2]);

    // A flow left half-way (the consent page open) when the dump is taken: the pending
    // interaction is in the database then, beside the signed-in OAuth session it belongs to.
    const pending = await registerApp(dev, { name: 'Pending', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
    const open = await person.follow(
      await person.get(
        authorizeUrl(server.url, {
          clientId: pending.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's3',
        }),
      ),
    );
    assert.match(await open.res.text(), /\/confirm/, 'the consent page is open');
    secrets.cookies('carol (consent page open)', person);

    const sig = dev.jar.get('lk_session.sig');
    sessionCookie = { value: dev.jar.get('lk_session')!, sig: sig! };
    assert.ok(sessionCookie.value && sessionCookie.sig, 'a signed session cookie');
    // Buffered writes (API key activity) reach the database before it is dumped.
    await server.built.services.apiKeys.activity(sessionPrincipal({ id: userId, isAdmin: false }), created.id, {
      limit: 1,
    });
    dump = await dumpDatabase(server.db);
    assert.ok(secrets.entries.length >= 45, `secrets collected: ${secrets.entries.length}`);
  });

  it('finds none of them in any value of the database dump', () => {
    assert.ok(dump.length > 100, `values dumped: ${dump.length}`);
    const found = secrets.findIn(dump.map((d) => ({ where: `${d.table}.${d.column}`, text: d.value })));
    assert.deepEqual(found, []);
  });

  it(
    'finds none of them in the raw database files (free pages, the WAL), ' + 'or in any row as text on PostgreSQL',
    async () => {
      const file = sqliteFileOf(server);
      if (file) {
        const files = [file, `${file}-wal`, `${file}-journal`].filter((f) => fs.existsSync(f));
        const found = secrets.findIn(
          files.map((f) => ({ where: f.slice(f.lastIndexOf('/') + 1), text: fs.readFileSync(f).toString('latin1') })),
        );
        assert.deepEqual(found, []);
        return;
      }
      // PostgreSQL: every row of every table, whole, as text (all columns, whatever their type).
      const tables = (
        await sql<{
          name: string;
        }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`.execute(server.db)
      ).rows;
      const rows: Array<{ where: string; text: string }> = [];
      for (const { name } of tables) {
        const result = await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.table(name)} t`.execute(server.db);
        for (const r of result.rows) rows.push({ where: name, text: r.row });
      }
      assert.ok(rows.length > 0);
      assert.deepEqual(secrets.findIn(rows), []);
    },
  );

  // The server's own key material is in the database too (server_secrets): a dump must not let an
  // attacker mint an access token the /v2 API accepts.
  it('holds no private key in the dump that signs an access token the API accepts', async () => {
    const privateJwks: JWK[] = [];
    for (const { value } of dump) {
      for (const candidate of jsonValues(value)) {
        const keys = (candidate as { keys?: unknown }).keys;
        for (const k of Array.isArray(keys) ? keys : [candidate]) {
          if (k && typeof k === 'object' && typeof (k as JWK).d === 'string' && typeof (k as JWK).kty === 'string')
            privateJwks.push(k as JWK);
        }
      }
    }
    const accepted: string[] = [];
    for (const jwk of privateJwks) {
      const alg = jwk.alg ?? (jwk.kty === 'RSA' ? 'RS256' : 'ES256');
      const forged = await new SignJWT({
        client_id: webApp.client_id,
        scope: 'admin:all read:users write:users delete:users',
      })
        .setProtectedHeader({ alg, typ: 'at+jwt', ...(jwk.kid ? { kid: jwk.kid } : {}) })
        .setIssuer(server.config.ISSUER)
        .setAudience(server.config.API_RESOURCE)
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('10m')
        .setJti(crypto.randomUUID())
        .sign(await importJWK(jwk, alg));
      const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${forged}` } });
      if (res.status === 200) accepted.push(`${jwk.kty} key ${jwk.kid}: ${await res.text()}`);
      else await res.arrayBuffer();
    }
    assert.deepEqual(
      accepted,
      [],
      `a private signing key read from the database dump (${privateJwks.length} found) ` +
        'mints access tokens the API accepts',
    );
  });

  it('holds no key in the dump that signs the server’s cookies', () => {
    const sign = (alg: string, key: string) =>
      crypto.createHmac(alg, key).update(`lk_session=${sessionCookie.value}`).digest('base64url');
    const candidates = new Set<string>();
    for (const { value } of dump) {
      candidates.add(value);
      for (const v of jsonValues(value))
        if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') candidates.add(s);
    }
    const signing = [...candidates].filter((k) => ['sha1', 'sha256'].some((alg) => sign(alg, k) === sessionCookie.sig));
    assert.deepEqual(
      signing.map((k) => `${k.slice(0, 6)}…`),
      [],
      'a cookie-signing key read from the database dump forges signed cookies (lk_session, lk_2fa, lk_csrf, _session)',
    );
  });

  it('keeps the API key it checked usable (the dump was taken from a live server)', async () => {
    const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });
});

/** The JSON values a text holds: itself parsed, or nothing. */
function jsonValues(text: string): unknown[] {
  if (!/^\s*[[{]/.test(text)) return [];
  try {
    return [JSON.parse(text)];
  } catch {
    return [];
  }
}

describe('secrets at rest with JWT access tokens (ACCESS_TOKEN_FORMAT=jwt)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { ACCESS_TOKEN_FORMAT: 'jwt' } });
  });
  after(() => server.dispose());

  it('stores neither the JWT access tokens nor the refresh tokens', async () => {
    const secrets = new SecretLog();
    const dev = new Browser(server.url);
    await signUp(dev, uniqueEmail('dev'), secrets.add('dev password', newPassword()));
    const app = await registerApp(dev, { name: 'Web', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
    secrets.add('client secret', app.client_secret);
    const user = { email: uniqueEmail('u'), password: secrets.add('user password', newPassword()) };
    await signUp(new Browser(server.url), user.email, user.password);
    const person = new Browser(server.url);
    const { redirect } = await authorize(person, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      state: 's',
      ...user,
    });
    const first = await token(server, app, {
      grant_type: 'authorization_code',
      code: secrets.add('code', redirect.searchParams.get('code')),
      redirect_uri: REDIRECT_URI,
    });
    const at = secrets.add('JWT access token', first.body['access_token']);
    assert.equal(at.split('.').length, 3);
    secrets.add('JWT access token signature', at.split('.')[2]);
    const second = await token(server, app, {
      grant_type: 'refresh_token',
      refresh_token: secrets.add('refresh token', first.body['refresh_token']),
    });
    secrets.add('JWT access token (refreshed)', second.body['access_token']);
    secrets.add('refresh token (rotated)', second.body['refresh_token']);
    secrets.cookies('person', person);
    const ok = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${second.body['access_token']}` },
    });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const found = secrets.findIn(
      (await dumpDatabase(server.db)).map((d) => ({ where: `${d.table}.${d.column}`, text: d.value })),
    );
    assert.deepEqual(found, []);
  });
});
