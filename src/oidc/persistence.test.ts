import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, authorizeUrl } from '../../test/support/http.ts';
import { dumpDatabase, sqliteFileOf } from '../../test/support/db-dump.ts';
import { sha256 } from '../shared/secrets.ts';
import {
  authorizeAs,
  basicAuth,
  codeFlow,
  introspect,
  newApp,
  refresh,
  revoke,
  type RegisteredApp,
  type TokenSet,
  type User,
} from '../../test/support/oauth.ts';
import { PASSWORD, REDIRECT_URI, worldOn, request } from '../../test/support/world.ts';
import { testBackend } from '../../test/support/database.ts';

describe('tokens and consent survive a restart', () => {
  let server: TestServer;
  let app: RegisteredApp;
  let user: User;
  let browser: Browser;
  let before1: TokenSet & { code: string };
  let before2: TokenSet & { code: string };
  let jwksBefore: unknown;

  before(async () => {
    server = await startTestServer();
    app = await newApp(server, { scopes: ['read:users', 'write:projects'] });
    user = await worldOn(server).user();
    browser = new Browser(server.url);
    before1 = await codeFlow(server, app, user, { browser, scope: 'read:users write:projects' });
    assert.equal(before1.sawConsent, true);
    before2 = await codeFlow(server, app, user, { scope: 'read:users write:projects' });
    jwksBefore = await (await fetch(`${server.url}/oauth/jwks`)).json();
    server = await server.restart();
  });
  after(() => server.dispose());

  it('keeps serving on the same port with the same signing keys', async () => {
    const res = await fetch(`${server.url}/oauth/jwks`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), jwksBefore);
  });

  it('still introspects an access token issued before the restart', async () => {
    const info = await introspect(server, app, before1.access_token);
    assert.equal(info['active'], true);
    assert.equal(info['scope'], 'read:users write:projects');
    assert.equal(info['client_id'], app.client_id);
  });

  it('still refreshes with a refresh token issued before the restart', async () => {
    const next = await refresh(server, app, before2.refresh_token!);
    assert.notEqual(next.refresh_token, before2.refresh_token);
    assert.equal(next.scope, 'read:users write:projects');
    assert.equal((await introspect(server, app, next.access_token))['active'], true);
  });

  it('asks a fresh browser to log in but not to consent again', async () => {
    const again = await codeFlow(server, app, user, { scope: 'read:users write:projects' });
    assert.equal(again.sawLogin, true);
    assert.equal(again.sawConsent, false);
    assert.equal(again.scope, 'read:users write:projects');
  });

  it('keeps the browser signed in across the restart', async () => {
    const again = await authorizeAs(server, app, user, { browser, scope: 'read:users' });
    assert.equal(again.sawLogin, false);
    assert.equal(again.sawConsent, false);
    assert.ok(again.redirect.searchParams.get('code'));
  });

  it('asks for consent only for newly requested scopes', async () => {
    const narrow = await newApp(server, { scopes: ['read:users', 'read:projects'] });
    const first = await codeFlow(server, narrow, user, { scope: 'read:users' });
    assert.equal(first.sawConsent, true);
    server = await server.restart();
    const wider = await authorizeAs(server, narrow, user, { scope: 'read:users read:projects' });
    assert.equal(wider.sawConsent, true);
    assert.match(
      wider.consentHtml!,
      /It is asking to[\s\S]*read:projects[\s\S]*You already allowed it to[\s\S]*read:users/,
    );
  });
});

describe('secrets at rest', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.dispose());

  it('leaves no password, client secret, code or token in a dump of the database', async () => {
    const app = await newApp(server, { scopes: ['read:users'] });
    const service = await newApp(server, { type: 'service', scopes: ['read:users'] });
    const user = await worldOn(server).user({ tag: 'secret-user' });
    const browser = new Browser(server.url);
    const first = await codeFlow(server, app, user, { browser });
    const second = await codeFlow(server, app, user);
    const rotated = await refresh(server, app, second.refresh_token!);
    const cc = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(cc.status, 200);

    const secrets: Record<string, string> = {
      password: PASSWORD,
      'client secret': app.client_secret!,
      'service client secret': service.client_secret!,
      'authorization code': first.code,
      'second authorization code': second.code,
      'access token': first.access_token,
      'refresh token': first.refresh_token!,
      'rotated refresh token': second.refresh_token!,
      'new refresh token': rotated.refresh_token!,
      'new access token': rotated.access_token,
      'client credentials token': cc.body['access_token'] as string,
    };
    // Session cookies are bearer credentials too: the provider's session and the dashboard's.
    for (const [name, value] of browser.jar.entries()) {
      if (name === '_session' || name === 'lk_session') secrets[`cookie ${name}`] = value;
    }
    assert.ok(secrets['cookie _session'] && secrets['cookie lk_session'], JSON.stringify(browser.jar.entries()));
    for (const [name, value] of Object.entries(secrets)) assert.ok(value && value.length >= 16, `${name} present`);

    const dump = await dumpDatabase(server.db);
    assert.ok(dump.length > 0);
    for (const { table, column, value } of dump) {
      for (const [name, secret] of Object.entries(secrets)) {
        assert.ok(!value.includes(secret), `${table}.${column} contains the ${name}`);
      }
    }

    const sqliteFile = sqliteFileOf(server);
    if (sqliteFile) {
      // The raw bytes of the database and its WAL hold none of them either.
      const files = [sqliteFile, `${sqliteFile}-wal`].filter((f) => fs.existsSync(f));
      assert.ok(files.includes(sqliteFile));
      for (const file of files) {
        const bytes = fs.readFileSync(file);
        for (const [name, secret] of Object.entries(secrets)) {
          assert.equal(bytes.includes(secret), false, `${file} contains the ${name}`);
        }
      }
    } else {
      // PostgreSQL's files are the server's: every row of every table, whole and in its text form
      // (all columns, whatever their type, as pg_dump would write them), holds none of them either.
      const tables = (
        await sql<{
          name: string;
        }>`SELECT table_name AS name FROM information_schema.tables
           WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(server.db)
      ).rows;
      assert.ok(tables.some((t) => t.name === 'oidc_payloads'));
      for (const { name: table } of tables) {
        const rows = (
          await sql<{ row: string }>`SELECT ${sql.table(table)}::text AS row FROM ${sql.table(table)}`.execute(
            server.db,
          )
        ).rows;
        for (const { row } of rows) {
          for (const [name, secret] of Object.entries(secrets)) {
            assert.equal(row.includes(secret), false, `a ${table} row contains the ${name}`);
          }
        }
      }
    }

    // Stored payloads carry no jti; tokens are found only by their SHA-256, behind the time they
    // were issued.
    const payloads = dump.filter((d) => d.table === 'oidc_payloads' && d.column === 'payload');
    assert.ok(payloads.length > 0);
    for (const { value } of payloads) assert.equal('jti' in (JSON.parse(value) as object), false, value);
    const idHashes = new Set(
      dump.filter((d) => d.table === 'oidc_payloads' && d.column === 'id_hash').map((d) => d.value),
    );
    for (const t of [rotated.access_token, rotated.refresh_token!, cc.body['access_token'] as string]) {
      assert.ok(idHashes.has(`${t.slice(0, 10)}${sha256(t)}`), 'token stored under its time and SHA-256');
    }

    // Passwords are argon2id at OWASP's minimum cost or above.
    const hashes = dump.filter((d) => d.table === 'users' && d.column === 'password_hash').map((d) => d.value);
    assert.ok(hashes.length >= 2);
    for (const hash of hashes) {
      const m = /^\$argon2id\$v=19\$([a-z]=\d+(?:,[a-z]=\d+)*)\$/.exec(hash);
      assert.ok(m, hash);
      const params = Object.fromEntries(m[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
      assert.ok(Number(params['m']) >= 19_456 && Number(params['t']) >= 2 && Number(params['p']) >= 1, hash);
    }
    // Client secrets are stored as their SHA-256.
    const secretHashes = dump
      .filter((d) => d.table === 'applications' && d.column === 'secret_hash')
      .map((d) => d.value);
    assert.ok(secretHashes.includes(sha256(app.client_secret!)));
  });

  it('does not store the raw id of an interaction in progress', async () => {
    const app = await newApp(server, { scopes: ['read:users'] });
    const browser = new Browser(server.url);
    const res = await browser.get(
      authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users', state: 's' }),
    );
    const uid = /^\/interaction\/([\w-]+)$/.exec(new URL(res.headers.get('location')!, server.url).pathname)![1]!;
    assert.equal(browser.jar.get('_interaction'), uid, 'the interaction cookie holds its id');
    const leaks = (await dumpDatabase(server.db)).filter((d) => d.value.includes(uid));
    assert.deepEqual(
      leaks.map((d) => `${d.table}.${d.column}`),
      [],
      'the interaction id is stored in plain text',
    );
  });
});

if (testBackend === 'postgres') {
  // An access token lost in a crash of PostgreSQL is refused afterwards (the client asks for
  // another), so its commit need not wait for the log flush; a consumption, a revocation or any
  // other token must (db/async-commit.ts). A trigger records the setting each write commits under.
  describe("which token writes wait for the flush of PostgreSQL's log", () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer();
      await sql`create table commit_log (model text, op text, synchronous_commit text)`.execute(server.db);
      await sql`create function log_commit() returns trigger language plpgsql as $$
        begin
          insert into commit_log
            values (coalesce(new.type, old.type), tg_op, current_setting('synchronous_commit'));
          return null;
        end $$`.execute(server.db);
      await sql`create trigger log_commit after insert or update or delete on oidc_payloads
        for each row execute function log_commit()`.execute(server.db);
    });
    after(() => server.dispose());

    it('skips the wait for issued access tokens only', async () => {
      const app = await newApp(server, { scopes: ['read:users'] });
      const service = await newApp(server, { type: 'service', scopes: ['read:users'] });
      const user = await worldOn(server).user({ tag: 'commits' });
      const first = await codeFlow(server, app, user);
      const rotated = await refresh(server, app, first.refresh_token!);
      const cc = await request(server, 'POST', '/oauth/token', {
        body: { grant_type: 'client_credentials', scope: 'read:users' },
        headers: { Authorization: basicAuth(service) },
      });
      assert.equal(cc.status, 200);
      assert.equal(await revoke(server, app, rotated.access_token), 200);
      assert.equal(await revoke(server, app, rotated.refresh_token!), 200);
      assert.equal((await introspect(server, app, rotated.access_token))['active'], false);

      const log = (
        await sql<{ model: string; op: string; synchronous_commit: string }>`
          select model, op, synchronous_commit from commit_log`.execute(server.db)
      ).rows;
      const settingsOf = (model: string, op: string) =>
        [...new Set(log.filter((w) => w.model === model && w.op === op).map((w) => w.synchronous_commit))].sort();
      assert.deepEqual(settingsOf('AccessToken', 'INSERT'), ['off'], 'issued by the code and the refresh');
      assert.deepEqual(settingsOf('ClientCredentials', 'INSERT'), ['off']);
      assert.deepEqual(settingsOf('AuthorizationCode', 'UPDATE'), ['on'], 'the code consumed');
      assert.deepEqual(settingsOf('RefreshToken', 'INSERT'), ['on'], 'issued and rotated');
      assert.deepEqual(settingsOf('RefreshToken', 'UPDATE'), ['on'], 'consumed by the refresh');
      assert.deepEqual(settingsOf('Grant', 'INSERT'), ['on']);
      assert.deepEqual(settingsOf('AccessToken', 'DELETE'), ['on'], 'revoked');
      const waitedFor = log.filter(
        (w) => !(w.op === 'INSERT' && ['AccessToken', 'ClientCredentials'].includes(w.model)),
      );
      assert.deepEqual(
        waitedFor.filter((w) => w.synchronous_commit !== 'on'),
        [],
        'every other write waits for the flush',
      );
    });
  });
}
