import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Browser, authorize } from '../test/support/http.ts';
import { basicAuth, pkcePair } from '../test/support/oauth.ts';
import { buildDist, runCli, spawnNode, type SpawnedNode } from '../test/support/process.ts';
import { freePort } from '../test/support/server.ts';
import { REDIRECT_URI } from '../test/support/world.ts';

// `npm start` runs `npm run build` (prestart: tsc -p tsconfig.build.json into dist/, then the
// bundle of dist/main.js into dist/server/), then `node dist/server/main.js`. Most of the suite
// runs the TypeScript sources; this runs what operators run, so a build that breaks, a path that
// only resolves from src/ (views, public), or a package the bundle cannot hold fails here.
describe('npm start: the compiled server', () => {
  let dir: string;
  let databaseUrl: string;
  let server: SpawnedNode | undefined;
  let base: string;

  /** An account and an application made with the CLI on the server's database, as an operator would. */
  async function appFromCli(email: string, password: string, app: string[]) {
    const env = { DATABASE_URL: databaseUrl };
    const user = await runCli(['users', 'create', '--email', email, '--password-stdin'], { env, input: password });
    assert.equal(user.code, 0, user.stderr);
    const made = await runCli(['apps', 'create', '--owner', email, '--scopes', 'read:users', ...app], { env });
    assert.equal(made.code, 0, made.stderr);
    const client = JSON.parse(made.stdout) as { client_id: string; client_secret: string };
    const form = { Authorization: basicAuth(client), 'Content-Type': 'application/x-www-form-urlencoded' };
    return { ...client, form };
  }

  before(async () => {
    // The build npm start runs (tsc, then the bundle), through bin/latchkey.js, which takes a
    // lock so that the CLI tests running beside this one never read a half-written dist/.
    await buildDist();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-start-'));
    databaseUrl = `sqlite:${path.join(dir, 'latchkey.sqlite')}`;
    const port = await freePort();
    // No ISSUER: with only PORT set, the server names itself on that port (the default issuer).
    base = `http://localhost:${port}`;
    server = spawnNode(['dist/server/main.js'], {
      env: {
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        LOG_LEVEL: 'info',
      },
    });
    await server.waitForLine(/Latchkey listening/);
  });
  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves pages (views), static files, discovery and the API from dist/', async () => {
    const login = await fetch(`${base}/login`);
    assert.equal(login.status, 200);
    const html = await login.text();
    assert.match(html, /<form[^>]+method="post"/i);
    assert.match(login.headers.get('content-security-policy') ?? '', /script-src 'self' 'nonce-[A-Za-z0-9+/=]{24}'/);

    const css = await fetch(`${base}/static/app.css`);
    assert.equal(css.status, 200);
    assert.equal(await css.text(), fs.readFileSync('public/app.css', 'utf8'));

    // Swagger UI's files are found through node_modules from the server's own folder.
    const docs = await fetch(`${base}/docs`);
    assert.equal(docs.status, 200);
    const script = /src="(\/static\/swagger-ui-bundle-[^"]+\.js)"/.exec(await docs.text());
    assert.ok(script, 'the /docs page names its script');
    const bundle = await fetch(`${base}${script[1]}`);
    assert.equal(bundle.status, 200);
    assert.ok((await bundle.arrayBuffer()).byteLength > 100_000);

    const discovery = await fetch(`${base}/.well-known/oauth-authorization-server`);
    assert.equal(discovery.status, 200);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, base);

    const unauthenticated = await fetch(`${base}/v2/auth/test`);
    assert.equal(unauthenticated.status, 401);
    assert.equal(((await unauthenticated.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');
    assert.equal(unauthenticated.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  });

  it('issues and introspects a token through oidc-provider, bundled with the server', async () => {
    const app = ['--name', 'Start', '--type', 'service'];
    const { client_id, form } = await appFromCli('start@example.com', 'a long enough passphrase', app);

    const token = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: form,
      body: 'grant_type=client_credentials&scope=read%3Ausers',
    });
    assert.equal(token.status, 200);
    const { access_token, expires_in } = (await token.json()) as { access_token: string; expires_in: number };
    assert.equal(expires_in, 3600, 'the access token lives ACCESS_TOKEN_TTL seconds');
    const introspection = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: form,
      body: `token=${encodeURIComponent(access_token)}`,
    });
    assert.equal(introspection.status, 200);
    const answer = (await introspection.json()) as { active: boolean; scope: string; client_id: string };
    assert.deepEqual([answer.active, answer.scope, answer.client_id], [true, 'read:users', client_id]);

    const authorized = await fetch(`${base}/v2/auth/test`, { headers: { Authorization: `Bearer ${access_token}` } });
    assert.equal(authorized.status, 200);
    const jwks = await fetch(`${base}/oauth/jwks`);
    assert.equal(jwks.status, 200);
    assert.ok(((await jwks.json()) as { keys: unknown[] }).keys.length > 0);
  });

  // oidc-provider tells its token kinds apart by their classes' names: each kind's lifetime, the
  // model its rows are stored under, the kind a presented token must be. A bundler that drops the
  // name of a class nothing refers to by name makes every kind '' alike, and then a refresh token
  // or a spent code would pass for an access token and no token would expire.
  it('keeps token kinds apart when bundled: a refresh token or a code is no access token', async () => {
    const user = { email: 'kinds@example.com', password: 'another long passphrase' };
    const app = ['--name', 'Kinds', '--type', 'web', '--redirect-uri', REDIRECT_URI];
    const { client_id, form } = await appFromCli(user.email, user.password, app);
    const pkce = pkcePair();
    const { redirect } = await authorize(new Browser(base), {
      clientId: client_id,
      redirectUri: REDIRECT_URI,
      scope: 'read:users',
      codeChallenge: pkce.challenge,
      ...user,
    });
    const code = redirect.searchParams.get('code')!;
    const exchange = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: pkce.verifier,
      }),
    });
    assert.equal(exchange.status, 200);
    const tokens = (await exchange.json()) as { access_token: string; refresh_token: string; expires_in: number };
    assert.equal(tokens.expires_in, 3600);
    assert.equal(typeof tokens.refresh_token, 'string');

    const bearer = (value: string) => fetch(`${base}/v2/auth/test`, { headers: { Authorization: `Bearer ${value}` } });
    assert.equal((await bearer(tokens.access_token)).status, 200);
    assert.equal((await bearer(tokens.refresh_token)).status, 401, 'a refresh token is not an access token');
    assert.equal((await bearer(code)).status, 401, 'an authorization code is not an access token');

    const introspected = await fetch(`${base}/oauth/introspect`, {
      method: 'POST',
      headers: form,
      body: `token=${encodeURIComponent(tokens.access_token)}`,
    });
    const answer = (await introspected.json()) as { active: boolean; iat: number; exp: number };
    assert.equal(answer.active, true);
    assert.equal(answer.exp - answer.iat, 3600, 'the access token expires');

    // Each kind's rows are stored under its own model name.
    const db = new Database(path.join(dir, 'latchkey.sqlite'), { readonly: true });
    try {
      const types = db.prepare('select distinct type from oidc_payloads').pluck().all() as string[];
      for (const model of ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'Grant', 'Session'])
        assert.ok(types.includes(model), `${model} rows in ${JSON.stringify(types)}`);
      assert.ok(!types.includes(''), 'no row without its model name');
    } finally {
      db.close();
    }
  });

  it('prints the first-run setup link on a fresh database, and the link opens the setup page', async () => {
    const line = await server!.waitForLine(/\/setup\?token=/);
    const link = /(http:\/\/\S+\/setup\?token=[A-Za-z0-9]+)/.exec(line)![1]!;
    assert.ok(link.startsWith(`${base}/setup?token=`), link);
    const page = await fetch(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form[^>]+action="\/setup"/);
    assert.equal((await fetch(`${base}/setup`)).status, 403);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    server!.child.kill('SIGTERM');
    assert.deepEqual(await server!.exited, { code: 0, signal: null });
  });
});
