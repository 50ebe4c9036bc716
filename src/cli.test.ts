import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { runCli, type RunResult } from '../test/support/process.ts';
import { startTestServer } from '../test/support/server.ts';
import { Browser } from '../test/support/http.ts';
import { signIn } from '../test/support/api.ts';
import { token, type RegisteredApp } from '../test/support/oauth.ts';
import { cliDatabaseEnv, createTestDatabase, testBackend, type TestDatabase } from '../test/support/database.ts';
import { sqliteFileOf } from '../test/support/db-dump.ts';
import { loadConfig } from './config.ts';
import { openDatabase } from './db/client.ts';

// The `latchkey` command as `npx latchkey` runs it (bin/latchkey.js), on a temp SQLite file (or,
// with TEST_DATABASE=postgres, a fresh PostgreSQL database).
describe('latchkey CLI', () => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  const EMAIL = 'owner@example.com';
  const PASSWORD = 'a long cli password';
  const cli = (args: string[], input?: string) => runCli(args, { env, ...(input === undefined ? {} : { input }) });
  const json = (r: RunResult): Record<string, unknown> => {
    assert.equal(r.code, 0, `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}`);
    assert.deepEqual(r.stderrLines, []);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  /** Exit 1 and one `latchkey: ...` line on stderr that matches `pattern`; nothing on stdout. */
  const fails = (r: RunResult, pattern: RegExp) => {
    assert.equal(
      r.code,
      1,
      `expected exit 1, got ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stdout}${r.stderr}`,
    );
    assert.equal(r.stderrLines.length, 1, `one stderr line, got:\n${r.stderr}`);
    assert.match(r.stderrLines[0]!, /^latchkey: /);
    assert.match(r.stderrLines[0]!, pattern);
    assert.doesNotMatch(r.stderr, /\bat .+\.(ts|js):\d+/, 'no stack trace');
    assert.equal(r.stdout, '');
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-cli-'));
    // The database startTestServer({ dir, database }) later opens too. On PostgreSQL there is no
    // file to keep a generated secrets key beside: the CLI and the server share one SECRETS_KEY.
    database = await createTestDatabase(dir);
    env = cliDatabaseEnv(
      loadConfig({
        DATABASE_URL: database.url,
        ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
      }),
    );
  });
  after(async () => {
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('explains a group of commands: keys --help lists keys create and keys rotate-signing', async () => {
    const r = await cli(['keys', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /latchkey keys create/);
    assert.match(r.stdout, /latchkey keys rotate-signing/);
    assert.doesNotMatch(r.stdout, /latchkey users create/);
  });

  it('every group answers --help, and latchkey --help names them all', async () => {
    const groups = ['users', 'apps', 'keys', 'jwt', 'mail', 'migrate', 'serve'];
    const [top, ...answers] = await Promise.all([cli(['--help']), ...groups.map((g) => cli([g, '--help']))]);
    assert.equal(top!.code, 0, top!.stderr);
    for (const [i, group] of groups.entries()) {
      const r = answers[i]!;
      assert.equal(r.code, 0, `${group} --help: ${r.stderr}`);
      assert.deepEqual(r.stderrLines, []);
      assert.match(r.stdout, new RegExp(`^latchkey ${group}\\b`), `${group} --help: ${r.stdout}`);
      assert.match(top!.stdout, new RegExp(`latchkey ${group}\\b`));
    }
    fails(await cli(['nope', '--help']), /unknown command: nope \(/);
  });

  it('migrate creates the database and prints JSON', async () => {
    const first = json(await cli(['migrate'])) as { migrated: string[] };
    assert.equal(first.migrated[0], '0001_initial');
    assert.ok(
      first.migrated.every((name) => /^\d{4}_\w+$/.test(name)),
      JSON.stringify(first),
    );
    const config = loadConfig(env);
    const file = sqliteFileOf({ config });
    if (file) assert.ok(fs.existsSync(file));
    // The tables are there, and every migration is recorded as applied.
    const db = openDatabase(config);
    try {
      const users = await db.selectFrom('users').select('id').execute();
      assert.deepEqual(users, []);
      const applied = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db);
      assert.deepEqual(
        applied.rows.map((r) => r.name),
        first.migrated,
      );
    } finally {
      await db.destroy();
    }
    assert.deepEqual(json(await cli(['migrate'])), { migrated: [] }, 'a second run has nothing to do');
  });

  it('users create reads the password from stdin and prints id, email and is_admin', async () => {
    const user = json(await cli(['users', 'create', '--email', EMAIL, '--password-stdin', '--admin'], `${PASSWORD}\n`));
    assert.equal(typeof user['id'], 'string');
    assert.equal(user['email'], EMAIL);
    assert.equal(user['is_admin'], true);
    assert.ok(!JSON.stringify(user).includes(PASSWORD));
    // The audit trail says the operator at the command line created it.
    const db = openDatabase(loadConfig(env));
    try {
      const created = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('account_id', '=', String(user['id']))
        .execute();
      assert.deepEqual(
        created.map((e) => [e.type, e.actor_type, e.target_id, e.ip]),
        [['account.created', 'cli', user['id'], null]],
      );
    } finally {
      await db.destroy();
    }
  });

  it('users disable, enable and reset-2fa act on an account by email, recorded with the CLI as actor', async () => {
    const email = 'disable-me@example.com';
    json(await cli(['users', 'create', '--email', email, '--password-stdin'], `${PASSWORD}\n`));
    const disabled = json(await cli(['users', 'disable', email]));
    assert.equal(disabled['disabled'], true);
    const enabled = json(await cli(['users', 'enable', email]));
    assert.equal(enabled['disabled'], false);
    fails(await cli(['users', 'reset-2fa', email]), /not on/);
    fails(await cli(['users', 'disable', 'nobody@example.com']), /not found/);
    fails(await cli(['users', 'disable']), /needs one email/);
    const db = openDatabase(loadConfig(env));
    try {
      const trail = await db
        .selectFrom('audit_events')
        .select(['type', 'actor_type'])
        .where('account_id', '=', String(disabled['id']))
        .orderBy('seq')
        .execute();
      assert.deepEqual(trail, [
        { type: 'account.created', actor_type: 'cli' },
        { type: 'account.disabled', actor_type: 'cli' },
        { type: 'account.enabled', actor_type: 'cli' },
      ]);
    } finally {
      await db.destroy();
    }
  });

  it('registration-tokens create issues an initial access token for an admin, shown once', async () => {
    const issued = json(
      await cli(['registration-tokens', 'create', '--admin', EMAIL, '--expires-in', '7d', '--uses', '3']),
    );
    assert.match(String(issued['token']), /^lkiat_/);
    assert.equal(issued['max_uses'], 3);
    assert.equal(Date.parse(String(issued['expires_at'])) - Date.parse(String(issued['created_at'])), 7 * 86_400_000);
    fails(await cli(['registration-tokens', 'create']), /needs --admin/);
  });

  let web: RegisteredApp & Record<string, unknown>;
  let service: RegisteredApp & Record<string, unknown>;

  it('apps create prints the client_id and the client_secret', async () => {
    web = json(
      await cli([
        'apps',
        'create',
        '--owner',
        EMAIL,
        '--name',
        'CLI App',
        '--redirect-uri',
        'https://a.example/cb',
        '--redirect-uri',
        'https://b.example/cb',
        '--scopes',
        'read:users write:projects',
      ]),
    ) as typeof web;
    assert.equal(typeof web.client_id, 'string');
    assert.match(web.client_secret!, /^lkcs_[0-9A-Za-z]{36}$/);
    assert.equal(web['type'], 'web');
    assert.deepEqual(web['redirect_uris'], ['https://a.example/cb', 'https://b.example/cb']);
    assert.deepEqual(web['scopes'], ['read:users', 'write:projects']);

    service = json(
      await cli([
        'apps',
        'create',
        '--owner',
        EMAIL,
        '--name',
        'CLI Worker',
        '--scopes',
        'read:users',
        '--type',
        'service',
      ]),
    ) as typeof service;
    assert.equal(service['type'], 'service');
    assert.match(service.client_secret!, /^lkcs_/);
  });

  // Each spawn boots the services (argon2, the database): run these side by side.
  describe('bad input: exit 1 and one clear line', { concurrency: 2 }, () => {
    const cases: [string, string[], RegExp, string?][] = [
      ['an unknown command', ['frobnicate'], /unknown command/],
      ['users create without --email', ['users', 'create', '--password-stdin'], /--email/, 'pw'],
      [
        'a duplicate email',
        ['users', 'create', '--email', EMAIL, '--password-stdin'],
        /already exists/,
        `${PASSWORD}\n`,
      ],
      [
        'users create with a 9-character password',
        ['users', 'create', '--email', 'short-pw@example.com', '--password-stdin'],
        /Password must be at least 10 characters/,
        'kT7#qz!w2\n',
      ],
      [
        'users create with a common password',
        ['users', 'create', '--email', 'weak-pw@example.com', '--password-stdin'],
        /Choose a stronger password: /,
        'password123\n',
      ],
      [
        'an unknown owner',
        [
          'apps',
          'create',
          '--owner',
          'nobody@example.com',
          '--name',
          'N',
          '--redirect-uri',
          'https://a.example/cb',
          '--scopes',
          'read:users',
        ],
        /nobody@example\.com/,
      ],
      [
        'a bad redirect URI',
        [
          'apps',
          'create',
          '--owner',
          EMAIL,
          '--name',
          'N',
          '--redirect-uri',
          'http://a.example/cb',
          '--scopes',
          'read:users',
        ],
        /redirect_uris\.0/,
      ],
      [
        'an --expires-in with no unit (90 is not 90 days)',
        ['keys', 'create', '--owner', EMAIL, '--name', 'N', '--scopes', 'read:users', '--expires-in', '90'],
        /--expires-in 90 needs a unit: 90d, 90h, 90m or 90s/,
      ],
    ];
    for (const [what, args, pattern, input] of cases) {
      it(what, async () => fails(await cli(args, input), pattern));
    }

    it('a bad setting names it', async () => {
      fails(await runCli(['migrate'], { env: { DATABASE_URL: 'mysql://nope' } }), /DATABASE_URL/);
    });
  });

  it('apis create registers an API with its scopes; apis list shows it; bad input is one stderr line', async () => {
    const api = json(
      await cli([
        'apis',
        'create',
        '--owner',
        EMAIL,
        '--name',
        'CLI API',
        '--identifier',
        'https://cli-api.example.com',
        '--scope',
        'read:cli:Read through the CLI',
        '--token-format',
        'jwt',
      ]),
    );
    assert.match(String(api['id']), /^api_/);
    assert.deepEqual(api['scopes'], [{ name: 'read:cli', description: 'Read through the CLI' }]);
    assert.equal(api['access_token_format'], 'jwt');
    const listed = json(await cli(['apis', 'list']));
    assert.ok((listed['data'] as { id: string }[]).some((a) => a.id === api['id']));
    const again = ['--name', 'Again', '--identifier', 'https://cli-api.example.com'];
    fails(await cli(['apis', 'create', '--owner', EMAIL, ...again]), /already exists/);
    const noDescription = ['--name', 'Bad', '--identifier', 'https://x.example.com', '--scope', 'nodescription'];
    fails(await cli(['apis', 'create', '--owner', EMAIL, ...noDescription]), /name:description/);
  });

  it('the server on the same database accepts what the CLI created', async () => {
    const server = await startTestServer({
      dir,
      database,
      ...(env['SECRETS_KEY'] ? { env: { SECRETS_KEY: env['SECRETS_KEY'] } } : {}),
    });
    try {
      // The service application gets a client_credentials token.
      const issued = await token(server, service, { grant_type: 'client_credentials', scope: 'read:users' });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      assert.equal(issued.body['scope'], 'read:users');
      // The user signs in with the password given on stdin (without its trailing newline).
      const browser = new Browser(server.url);
      const res = await signIn(browser, EMAIL, PASSWORD);
      assert.equal(res.status, 303);
      assert.equal(res.headers.get('location'), '/dashboard');
      const dashboard = await (await browser.get('/dashboard')).text();
      assert.ok(
        dashboard.includes('CLI App') && dashboard.includes(web.client_id),
        'the CLI-created app is on the dashboard',
      );
      // The web application's secret authenticates it: the grant it lacks is refused, not the client.
      const cc = await token(server, web, { grant_type: 'client_credentials' });
      assert.equal(cc.status, 400, JSON.stringify(cc.body));
      assert.notEqual(cc.body['error'], 'invalid_client');
      const wrong = await token(
        server,
        { client_id: web.client_id, client_secret: service.client_secret! },
        { grant_type: 'client_credentials' },
      );
      assert.equal(wrong.body['error'], 'invalid_client');
    } finally {
      await server.dispose();
    }
  });
});
