import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { startWorld, type TestUser, type TestWorld } from '../../test/support/world.ts';
import { basicAuth, type RegisteredApp } from '../../test/support/oauth.ts';

// The answers of the protocol endpoints, byte for byte as clients have always received them: the
// status line, every field in its order with its name's case, and the body. Values that change
// from one request to the next (the clock, the counts, tokens) are matched by their shape.

interface RawAnswer {
  statusLine: string;
  fields: [string, string][];
  body: string;
}

/** One request over a plain socket, and the answer exactly as it came on the wire. */
function exchange(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: string,
  method = 'POST',
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const head = Object.entries({
      Host: `127.0.0.1:${port}`,
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': String(Buffer.byteLength(body)),
      ...headers,
    })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = received.subarray(0, end).toString('latin1').split('\r\n');
      const fields = lines.slice(1).map((line) => {
        const colon = line.indexOf(': ');
        return [line.slice(0, colon), line.slice(colon + 2)] as [string, string];
      });
      const length = Number(fields.find(([name]) => name.toLowerCase() === 'content-length')?.[1]);
      if (received.length < end + 4 + length) return;
      socket.end();
      resolve({ statusLine: lines[0]!, fields, body: received.subarray(end + 4).toString('utf8') });
    });
    socket.on('error', reject);
    socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body}`);
  });
}

const DIGITS = /^\d+$/;
const DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** A token as issued: its time (time-ordered-ids.ts), then 256 random bits. */
const TOKEN = /^[0-9a-z]{9}~[A-Za-z0-9_-]{43}$/;

/** What every answer of a protocol endpoint starts with: the request id, then the security fields. */
const FIRST: [string, string | RegExp][] = [
  ['X-Request-ID', 'pinned-id'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=()'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
];
const RATE_LIMITS: [string, string | RegExp][] = [
  ['X-RateLimit-Limit', DIGITS],
  ['X-RateLimit-Remaining', DIGITS],
  ['X-RateLimit-Reset', DIGITS],
  ['RateLimit-Policy', /^"hourly";q=\d+;w=3600, "burst";q=\d+;w=1$/],
  ['RateLimit', /^"hourly";r=\d+;t=\d+, "burst";r=\d+;t=1$/],
];
const CORS = (expose: string): [string, string | RegExp][] => [
  ['Vary', 'Origin'],
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Expose-Headers', expose],
];
const LAST: [string, string | RegExp][] = [
  ['Content-Type', 'application/json; charset=utf-8'],
  ['Content-Length', DIGITS],
  ['Date', DATE],
  ['Connection', 'keep-alive'],
  ['Keep-Alive', 'timeout=5'],
];
/** The token endpoint's fields before its JSON body's: ours, then oidc-provider's. */
const TOKEN_FIELDS: [string, string | RegExp][] = [
  ...FIRST,
  ...RATE_LIMITS,
  ...CORS('DPoP-Nonce,WWW-Authenticate'),
  ['cache-control', 'no-store'],
];

/** Compares field by field: the same names (case included) in the same order, each value alike. */
function assertHead(answer: RawAnswer, statusLine: string, expected: [string, string | RegExp][]): void {
  assert.equal(answer.statusLine, statusLine);
  assert.deepEqual(
    answer.fields.map(([name]) => name),
    expected.map(([name]) => name),
  );
  expected.forEach(([name, value], i) => {
    const actual = answer.fields[i]![1];
    if (typeof value === 'string') assert.equal(actual, value, name);
    else assert.match(actual, value, name);
  });
  const length = answer.fields.find(([name]) => name === 'Content-Length')?.[1];
  assert.equal(length, String(Buffer.byteLength(answer.body)));
}

/** The body as text, its members in order, each value alike. */
function assertBody(answer: RawAnswer, expected: [string, unknown][]): void {
  const parsed = JSON.parse(answer.body) as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(parsed),
    expected.map(([name]) => name),
  );
  for (const [name, value] of expected) {
    if (value instanceof RegExp) assert.match(String(parsed[name]), value, name);
    else assert.deepEqual(parsed[name], value, name);
  }
  assert.equal(answer.body, JSON.stringify(parsed));
}

describe('the protocol endpoints answer byte for byte as before', () => {
  let world: TestWorld;
  let owner: TestUser;
  let service: RegisteredApp;
  let issuer: string;
  /** Paths of answers whose head was set field by field on the response (Node's header store). */
  const storedHeads: string[] = [];
  const onFinish = (message: unknown) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    if (response.getHeaderNames().length > 0) storedHeads.push(request.url ?? '');
  };

  before(async () => {
    // The token endpoint's own limit is small (5 an hour per client), for the 429 below.
    world = await startWorld({ env: { RATE_LIMIT_TOKEN_ENDPOINT: '5,1000000' } });
    issuer = world.server.config.ISSUER;
    owner = await world.user({ admin: true, tag: 'owner' });
    service = await world.app(owner, { type: 'service', scopes: ['read:users'], redirect_uris: [] });
    diagnostics.subscribe('http.server.response.finish', onFinish);
  });
  after(async () => {
    diagnostics.unsubscribe('http.server.response.finish', onFinish);
    await world.close();
  });

  const post = (path: string, app: RegisteredApp, body: string, headers: Record<string, string> = {}) =>
    exchange(world.server.port, path, { Authorization: basicAuth(app), 'X-Request-ID': 'pinned-id', ...headers }, body);

  it('client_credentials: a success', async () => {
    const answer = await post('/oauth/token', service, 'grant_type=client_credentials&scope=read%3Ausers');
    assertHead(answer, 'HTTP/1.1 200 OK', [...TOKEN_FIELDS, ...LAST]);
    assertBody(answer, [
      ['access_token', TOKEN],
      ['expires_in', 3600],
      ['scope', 'read:users'],
      ['token_type', 'Bearer'],
    ]);
  });

  it('client_credentials from an origin the client does not allow: 400, its CORS field taken back', async () => {
    const answer = await post('/oauth/token', service, 'grant_type=client_credentials', {
      Origin: 'https://elsewhere.example',
    });
    assertHead(answer, 'HTTP/1.1 400 Bad Request', [
      ...FIRST,
      ...RATE_LIMITS,
      ['Vary', 'Origin'],
      ['Access-Control-Expose-Headers', 'DPoP-Nonce,WWW-Authenticate'],
      ['cache-control', 'no-store'],
      ...LAST,
    ]);
    assertBody(answer, [
      ['error', 'invalid_request'],
      ['error_description', `origin https://elsewhere.example not allowed for client: ${service.client_id}`],
    ]);
  });

  it('refresh_token: a success', async () => {
    const { refresh_token, app } = await world.oauthToken(owner, ['read:users']);
    const answer = await post('/oauth/token', app, `grant_type=refresh_token&refresh_token=${refresh_token}`);
    assertHead(answer, 'HTTP/1.1 200 OK', [...TOKEN_FIELDS, ...LAST]);
    assertBody(answer, [
      ['access_token', TOKEN],
      ['expires_in', 3600],
      ['refresh_token', TOKEN],
      ['scope', 'read:users'],
      ['token_type', 'Bearer'],
    ]);
  });

  it('invalid_client (a wrong secret in Basic): 401 with its challenge', async () => {
    const answer = await post('/oauth/token', { ...service, client_secret: 'wrong' }, 'grant_type=client_credentials');
    assertHead(answer, 'HTTP/1.1 401 Unauthorized', [
      ...TOKEN_FIELDS,
      [
        'WWW-Authenticate',
        `Basic realm="${issuer}", error="invalid_client", error_description="client authentication failed"`,
      ],
      ...LAST,
    ]);
    assert.equal(answer.body, '{"error":"invalid_client","error_description":"client authentication failed"}');
  });

  it('invalid_grant (an unknown refresh token): 400', async () => {
    const web = await world.app(owner, { scopes: ['read:users'] });
    const answer = await post('/oauth/token', web, 'grant_type=refresh_token&refresh_token=not-a-token');
    assertHead(answer, 'HTTP/1.1 400 Bad Request', [...TOKEN_FIELDS, ...LAST]);
    assert.equal(answer.body, '{"error":"invalid_grant","error_description":"grant request is invalid"}');
  });

  it('a grant the client may not use: 400 unauthorized_client', async () => {
    const answer = await post('/oauth/token', service, 'grant_type=refresh_token&refresh_token=x');
    assertHead(answer, 'HTTP/1.1 400 Bad Request', [...TOKEN_FIELDS, ...LAST]);
    assert.equal(
      answer.body,
      '{"error":"unauthorized_client","error_description":"requested grant type is not allowed for this client"}',
    );
  });

  it('rate limited: 429 with Retry-After', async () => {
    const limited = await world.app(owner, { type: 'service', scopes: ['read:users'], redirect_uris: [] });
    let answer: RawAnswer | undefined;
    for (let i = 0; i < 20 && !answer?.statusLine.includes('429'); i++) {
      answer = await post('/oauth/token', limited, 'grant_type=client_credentials');
    }
    assertHead(answer!, 'HTTP/1.1 429 Too Many Requests', [
      ...FIRST,
      ...RATE_LIMITS,
      ['Retry-After', DIGITS],
      ['Cache-Control', 'no-store'],
      ...LAST,
    ]);
    assertBody(answer!, [
      ['error', 'rate_limited'],
      ['error_description', /^Too many token requests; retry after \d+ s$/],
    ]);
  });

  it('a body that is not JSON though it says so: our own 400', async () => {
    const answer = await post('/oauth/token', service, '{not json', { 'Content-Type': 'application/json' });
    assertHead(answer, 'HTTP/1.1 400 Bad Request', [...FIRST, ['Cache-Control', 'no-store'], ...LAST]);
    assert.equal(answer.body, '{"error":"invalid_request","error_description":"request body is not valid JSON"}');
  });

  it('revocation: 200 with an empty body', async () => {
    const answer = await post('/oauth/revoke', service, 'token=nothing');
    assertHead(answer, 'HTTP/1.1 200 OK', [
      ...FIRST,
      ...CORS('WWW-Authenticate'),
      ['Content-Type', 'text/plain; charset=utf-8'],
      ...LAST.slice(1),
    ]);
    assert.equal(answer.body, '');
  });

  it('the keys: GET', async () => {
    const answer = await exchange(world.server.port, '/oauth/jwks', { 'X-Request-ID': 'pinned-id' }, '', 'GET');
    assertHead(answer, 'HTTP/1.1 200 OK', [
      ...FIRST,
      ['Vary', 'Origin'],
      ['Access-Control-Allow-Origin', '*'],
      ['Content-Type', 'application/jwk-set+json; charset=utf-8'],
      ...LAST.slice(1),
    ]);
    assert.deepEqual(Object.keys(JSON.parse(answer.body)), ['keys']);
  });

  describe('introspection', () => {
    let resourceServer: RegisteredApp;
    let tokens: { access_token: string; refresh_token: string };

    before(async () => {
      resourceServer = await world.app(owner, { type: 'resource_server', scopes: ['read:users'], redirect_uris: [] });
      tokens = await world.oauthToken(owner, ['read:users']);
    });

    const HEAD: [string, string | RegExp][] = [
      ...FIRST,
      ...CORS('WWW-Authenticate'),
      ['cache-control', 'no-store'],
      ...LAST,
    ];

    it('of a live access token (answered by our own step)', async () => {
      const answer = await post('/oauth/introspect', resourceServer, `token=${tokens.access_token}`);
      assertHead(answer, 'HTTP/1.1 200 OK', HEAD);
      assert.equal(JSON.parse(answer.body).active, true);
    });

    it('of a refresh token (answered by oidc-provider)', async () => {
      const answer = await post(
        '/oauth/introspect',
        resourceServer,
        `token=${tokens.refresh_token}&token_type_hint=refresh_token`,
      );
      assertHead(answer, 'HTTP/1.1 200 OK', HEAD);
    });

    it('of something that is no token: inactive', async () => {
      const answer = await post('/oauth/introspect', resourceServer, 'token=nothing');
      assertHead(answer, 'HTTP/1.1 200 OK', HEAD);
      assert.equal(answer.body, '{"active":false}');
    });
  });

  it('writes these answers in one step: no field is stored on the response one by one', async () => {
    storedHeads.length = 0;
    await post('/oauth/token', service, 'grant_type=client_credentials');
    await post('/oauth/token', { ...service, client_secret: 'wrong' }, 'grant_type=client_credentials');
    await post('/oauth/introspect', service, 'token=nothing');
    await post('/oauth/revoke', service, 'token=nothing');
    await exchange(world.server.port, '/oauth/jwks', {}, '', 'GET');
    // A page still answers field by field (the observation itself works).
    await exchange(world.server.port, '/oauth/authorize', {}, '', 'GET');
    assert.deepEqual(storedHeads, ['/oauth/authorize']);
  });
});
