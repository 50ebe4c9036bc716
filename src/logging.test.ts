import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { Browser, registerApp, signUp } from '../test/support/http.ts';
import { createLogger } from './logger.ts';
import { request, worldOn, credentialServerEnv } from '../test/support/world.ts';

// pino JSON logs: one line per request with the request id, method, path (no query string),
// status and duration; never a header, a body, a query string or a secret. The server's log
// stream is captured while a whole flow runs with real secrets, then searched for each of them.

describe('request logs', () => {
  let server: TestServer;
  const raw: string[] = [];
  const lines = () => raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  const secrets: Record<string, string> = {};

  before(async () => {
    server = await startTestServer({
      env: { ...credentialServerEnv, LOG_LEVEL: 'trace' },
      logDestination: { write: (line: string) => raw.push(line) },
    });
    const make = worldOn(server);

    // A password, through the sign-up and login forms.
    const password = 'logging test passphrase 7f3c';
    secrets['password'] = password;
    const email = `logs-${Date.now()}@example.com`;
    const browser = new Browser(server.url);
    await signUp(browser, email, password);
    const user = { ...(await make.user({ tag: 'dev' })) };

    // An API key, created over the API and used in a header and (wrongly) in a query string.
    const created = await user.browser.postJson('/v2/api-keys', { name: 'logged', scopes: ['read:users'] });
    assert.equal(created.status, 201);
    const key = ((await created.json()) as { key: string }).key;
    secrets['api key'] = key;
    assert.equal(
      (await request(server, 'GET', '/v2/auth/test', { bearer: key, headers: { 'X-Request-ID': 'trace-me-123' } }))
        .status,
      200,
    );
    assert.equal(
      (await request(server, 'GET', `/v2/auth/test?api_key=${encodeURIComponent(key)}`, { bearer: key })).status,
      200,
    );
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: `${key.slice(0, -4)}AAAA` })).status, 401);

    // A client secret, at the token endpoint (form body and Basic header), and the bearer token it buys.
    const app = await registerApp(user.browser, {
      name: 'Logged service',
      type: 'service',
      redirect_uris: [],
      scopes: ['read:users'],
    });
    secrets['client secret'] = app.client_secret!;
    const tokenRes = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: 'stray=cookie-value-9d2e' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: app.client_id,
        client_secret: app.client_secret!,
        scope: 'read:users',
      }).toString(),
    });
    assert.equal(tokenRes.status, 200);
    const bearer = ((await tokenRes.json()) as { access_token: string }).access_token;
    secrets['bearer token'] = bearer;
    secrets['cookie'] = 'cookie-value-9d2e';
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer })).status, 200);
    const basic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
    const introspected = await fetch(`${server.url}/oauth/introspect`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: basic },
      body: JSON.stringify({ token: bearer }),
    });
    assert.equal(introspected.status, 200);

    // A shared-secret JWT, and the session cookie of the signed-in browser.
    const jwt = make.jwt({ sub: 'svc', scopes: ['read:users'] });
    secrets['jwt'] = jwt;
    assert.equal((await request(server, 'GET', '/v2/auth/test', { bearer: jwt })).status, 200);
    const session = user.browser.jar.header();
    assert.ok(session);
    secrets['session cookie'] = session.split('=')[1]!.split(';')[0]!;
    assert.equal((await user.browser.get('/dashboard')).status, 200);
  });
  after(() => server.dispose());

  it('writes one JSON line per request with its request id, method, path, status and duration', () => {
    const requests = lines().filter((l) => l['msg'] === 'request');
    assert.ok(requests.length >= 10, `${requests.length} request lines`);
    for (const l of requests) {
      assert.match(String(l['reqId']), /^[\w.:-]{1,128}$/);
      assert.equal(typeof l['method'], 'string');
      assert.equal(typeof l['path'], 'string');
      assert.equal(typeof l['status'], 'number');
      assert.equal(typeof l['ms'], 'number');
      assert.deepEqual(
        Object.keys(l).filter((k) => /header|body|query|cookie|authorization/i.test(k)),
        [],
      );
    }
    const traced = requests.filter((l) => l['reqId'] === 'trace-me-123');
    assert.equal(traced.length, 1, "the caller-given X-Request-ID is the line's reqId");
    assert.deepEqual(
      { method: traced[0]!['method'], path: traced[0]!['path'], status: traced[0]!['status'] },
      { method: 'GET', path: '/v2/auth/test', status: 200 },
    );
  });

  it('logs paths without their query string', () => {
    for (const l of lines()) if (typeof l['path'] === 'string') assert.ok(!l['path'].includes('?'), l['path']);
  });

  for (const what of ['password', 'api key', 'client secret', 'bearer token', 'jwt', 'cookie', 'session cookie']) {
    it(`never writes the ${what}`, () => {
      const secret = secrets[what]!;
      assert.ok(secret.length >= 16, `${what} is a real secret`);
      assert.deepEqual(
        raw.filter((l) => l.includes(secret)),
        [],
      );
    });
  }
});

describe('createLogger', () => {
  it('redacts credentials in headers and secret-named fields, should anything log them', () => {
    const out: string[] = [];
    const logger = createLogger('info', { write: (l: string) => out.push(l) });
    logger.info({ req: { headers: { authorization: 'Bearer sk_live_secret', cookie: 'sid=secret-cookie' } } }, 'a');
    logger.info({ headers: { authorization: 'Basic c2VjcmV0', cookie: 'sid=secret-cookie' } }, 'b');
    logger.info(
      {
        password: 'hunter2hunter2',
        client_secret: 'cs_secret',
        token: 'tok_secret',
        body: { refresh_token: 'rt_secret' },
      },
      'c',
    );
    const text = out.join('');
    for (const secret of [
      'sk_live_secret',
      'secret-cookie',
      'c2VjcmV0',
      'hunter2hunter2',
      'cs_secret',
      'tok_secret',
      'rt_secret',
    ]) {
      assert.ok(!text.includes(secret), secret);
    }
    assert.equal(out.length, 3);
  });
});
