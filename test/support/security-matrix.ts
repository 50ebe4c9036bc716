/**
 * The credential × scope × owner security matrix, generated from the route specs: every API route
 * (listed by `listApiRoutes`, from the specs the app is built from) gets, per bearer credential
 * kind (API key, OAuth access token, shared-secret JWT), one `it(...)` per case — no scope at all,
 * a different scope, the required one, admin:all, each on the caller's own and on another user's
 * resource; expired, revoked, malformed, forged, wrong IP — and the same for the dashboard session
 * cookie (an ordinary account's, an admin's, another user's resource, signed out, a cross-site
 * write). Each asserts the exact status, error body and `WWW-Authenticate` challenge.
 *
 * The route spec says the method, the path, the scopes required and the success status; a
 * `*.security.test.ts` beside the routes supplies only what it cannot (`RouteFixture`: how to make
 * the request and its fixtures, what a success looks like, whose resource it is).
 *
 * Every credential is issued by the server's own code paths (service, browser login + consent,
 * jsonwebtoken as documented), and made once per (method, owner, scopes), then reused.
 * Not applicable, so not generated: "revoked" for shared-secret JWTs (stateless: nothing to
 * revoke), "no scope at all" for API keys (a key carries at least one) and "wrong IP" for anything
 * but API keys (only keys carry an allowlist).
 *
 * Usage: `securityMatrix(import.meta.url, fixtures, extras)` in the file SECURITY_TEST_FILES
 * (test/support/api-routes.ts) names for the routes' tag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { ADMIN_SCOPE, ALL_API_SCOPES } from '../../src/domain/scopes.ts';
import { mintApiKey } from '../../src/features/api-keys/key-format.ts';
import { sessionPrincipal } from '../../src/domain/principal.ts';
import { mintSecret } from '../../src/shared/secrets.ts';
import { credentialServerEnv, request, TEST_JWT_SECRET, worldOn, type TestUser, type World } from './world.ts';
import { Browser, authorize, csrfFrom, registerApp } from './http.ts';
import { startTestServer, type TestServer } from './server.ts';
import { listApiRoutes, tagsCoveredBy, type ApiRoute } from './api-routes.ts';
import { withResourceMetadata } from '../../src/features/apis/protected-resource.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

// ---------------------------------------------------------------------------------------------
// The documented error bodies and RFC 6750 challenges.

export const UNAUTHORIZED_BODY = {
  error: { code: 'UNAUTHORIZED', message: 'Invalid or missing authentication credentials' },
};
export const FORBIDDEN_BODY = { error: { code: 'FORBIDDEN', message: 'Insufficient permissions for this operation' } };

export const CHALLENGE = {
  /** No credential at all (RFC 6750 §3.1: no error code). */
  missing: 'Bearer',
  invalidToken: 'Bearer error="invalid_token"',
  invalidRequest: 'Bearer error="invalid_request"',
  insufficientScope: (scope: string) => `Bearer error="insufficient_scope", scope="${scope}"`,
} as const;
export type Challenge = typeof CHALLENGE.missing | typeof CHALLENGE.invalidToken | typeof CHALLENGE.invalidRequest;

export interface MatrixResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | null;
  /** Where a 401 of this route says the API's metadata is (RFC 9728 §5.1); null outside /v2. */
  resourceMetadata?: string | null;
}

const show = (res: MatrixResponse) =>
  `${res.status} ${JSON.stringify(res.body)} www-authenticate=${res.headers.get('www-authenticate')}`;

export function assertUnauthorized(res: MatrixResponse, challenge: Challenge): void {
  assert.equal(res.status, 401, show(res));
  assert.deepEqual(res.body, UNAUTHORIZED_BODY);
  const expected = res.resourceMetadata ? withResourceMetadata(challenge, res.resourceMetadata) : challenge;
  assert.equal(res.headers.get('www-authenticate'), expected, `WWW-Authenticate for ${show(res)}`);
}

/** 403 for a missing scope: the documented body and the RFC 6750 insufficient_scope challenge naming it. */
export function assertInsufficientScope(res: MatrixResponse, scope: string): void {
  assert.equal(res.status, 403, show(res));
  assert.deepEqual(res.body, FORBIDDEN_BODY);
  assert.equal(res.headers.get('www-authenticate'), CHALLENGE.insufficientScope(scope));
}

/** 403 for a resource the credential may not touch (ownership): the documented body, no scope claim. */
export function assertForbidden(res: MatrixResponse): void {
  assert.equal(res.status, 403, show(res));
  assert.deepEqual(res.body, FORBIDDEN_BODY);
  assert.doesNotMatch(
    res.headers.get('www-authenticate') ?? '',
    /insufficient_scope/,
    'the scope was fine; ownership is not a scope problem',
  );
}

/** 403 FORBIDDEN whose message explains a specific refusal (IP allowlist, credential not bound to an account). */
export function assertForbiddenCode(res: MatrixResponse): void {
  assert.equal(res.status, 403, show(res));
  assert.equal((res.body?.['error'] as { code?: string } | undefined)?.code, 'FORBIDDEN', show(res));
  assert.equal(typeof (res.body?.['error'] as { message?: unknown } | undefined)?.message, 'string');
}

export function assertNotFound(res: MatrixResponse): void {
  assert.equal(res.status, 404, show(res));
  assert.equal((res.body?.['error'] as { code?: string } | undefined)?.code, 'NOT_FOUND', show(res));
}

// ---------------------------------------------------------------------------------------------
// Sending requests.

let forwardedCounter = Math.floor(Math.random() * 1_000_000);
/**
 * A distinct client address per request (TRUST_PROXY is on in credentialServerEnv), so per-IP
 * limits on unauthenticated traffic never mix into what a case asserts. Cases about the address
 * (API key allowlists) pass their own.
 */
function nextForwardedFor(): string {
  const n = forwardedCounter++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** One request with full control of the Authorization header (or none). */
export async function send(
  server: TestServer,
  req: {
    method: string;
    path: string;
    body?: unknown;
    authorization?: string | null;
    ip?: string;
    headers?: Record<string, string>;
  },
): Promise<MatrixResponse> {
  const res = await fetch(`${server.url}${req.path}`, {
    method: req.method,
    headers: {
      'X-Forwarded-For': req.ip ?? nextForwardedFor(),
      ...(req.authorization ? { Authorization: req.authorization } : {}),
      ...(req.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...req.headers,
    },
    ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> | null = null;
  if (text) {
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      assert.fail(`not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
  }
  const onV2 = /^\/v2(\/|$)/.test(req.path);
  const resourceMetadata = onV2 ? `${server.url}/.well-known/oauth-protected-resource/v2` : null;
  return { status: res.status, headers: res.headers, body, resourceMetadata };
}

// ---------------------------------------------------------------------------------------------
// The environment: one server with a movable clock, three accounts, and credential makers.

export type BearerMethod = 'api_key' | 'oauth' | 'jwt';
export const BEARER_METHODS: readonly BearerMethod[] = ['api_key', 'oauth', 'jwt'];

/** Every scope an ordinary account can hold. */
export const NON_ADMIN_SCOPES = ALL_API_SCOPES.filter((s) => s !== ADMIN_SCOPE) as string[];

const REDIRECT_URI = 'https://client.example/callback';

export interface MatrixEnv {
  server: TestServer;
  make: World;
  /** An ordinary account: the default caller. */
  alice: TestUser;
  /** Another ordinary account: the owner of "another user's" resources. */
  bob: TestUser;
  /** An admin account: the caller of admin:all cases. */
  admin: TestUser;
  /** Milliseconds added to the server's clock (Date.now() + offset). */
  clock: { offset: number };
  /** A live credential for `owner` with exactly `scopes` (memoised per method, owner and scopes). */
  token(method: BearerMethod, owner: TestUser, scopes: string[]): Promise<string>;
  /** A credential that is expired once the clock has moved `advanceMs` forward (0: expired already). */
  expired(method: BearerMethod, owner: TestUser, scopes: string[]): Promise<{ token: string; advanceMs: number }>;
  /** A credential revoked through the server (API key revoke; OAuth /oauth/revoke); null for JWTs. */
  revoked(method: BearerMethod, owner: TestUser, scopes: string[]): Promise<string | null>;
  /** An API key restricted to `allowedIps`. */
  ipBoundKey(owner: TestUser, scopes: string[], allowedIps: string[]): Promise<string>;
  /** A shared-secret JWT signed as documented, with `sub` = owner id (or any string). */
  jwtFor(sub: string, scopes: string[]): string;
  /** A new ordinary account (for cases that consume their caller, such as deleting yourself). */
  freshUser(tag?: string): Promise<TestUser>;
  /**
   * A new application `owner` has consented to (its own, so revoking it touches no other case), and
   * the token it got.
   */
  authorizedApp(owner: TestUser, scopes: string[]): Promise<{ clientId: string; token: string }>;
  /** The session cookie of a dashboard session that has since signed out. */
  signedOutCookie(): Promise<string>;
  /** Runs `fn` with the server's clock moved forward, then puts it back. */
  withClockAdvanced<T>(ms: number, fn: () => Promise<T>): Promise<T>;
  send(req: Parameters<typeof send>[1]): Promise<MatrixResponse>;
  /** The `api()` helper, bound to this server. */
  api(method: string, path: string, token?: string, body?: unknown): ReturnType<typeof request>;
}

/**
 * Rate limits high enough that the matrix, which fires many requests per account per second,
 * never meets them: limits have their own tests, and a 429 here would only make cases flaky.
 */
export const MATRIX_SERVER_ENV: Record<string, string> = {
  ...credentialServerEnv,
  RATE_LIMIT_API_KEY: '1000000,100000',
  RATE_LIMIT_OAUTH: '1000000,100000',
  RATE_LIMIT_JWT: '1000000,100000',
  RATE_LIMIT_UNAUTHENTICATED: '1000000,100000',
  RATE_LIMIT_TOKEN_ENDPOINT: '1000000,100000',
  RATE_LIMIT_APPLICATIONS: '1000000,100000',
};

export async function createMatrixEnv(
  opts: { env?: Record<string, string> } = {},
): Promise<MatrixEnv & { dispose(): Promise<void> }> {
  const clock = { offset: 0 };
  const server = await startTestServer({
    env: { ...MATRIX_SERVER_ENV, ...opts.env },
    now: () => Date.now() + clock.offset,
  });
  const make = worldOn(server);
  const [alice, bob, admin] = await Promise.all([
    make.user({ tag: 'alice' }),
    make.user({ tag: 'bob' }),
    make.user({ admin: true, tag: 'admin' }),
  ]);

  // OAuth: one application (registered by the admin, so it may offer every scope) for the reusable
  // tokens, and one signed-in browser per person, so only the first authorization pays for a login.
  type App = { client_id: string; client_secret?: string };
  const newApp = (): Promise<App> =>
    registerApp(admin.browser, {
      name: 'Security matrix client',
      redirect_uris: [REDIRECT_URI],
      scopes: [...ALL_API_SCOPES],
    });
  let sharedApp: Promise<App> | undefined;
  const people = new Map<string, Browser>();

  async function mintOAuth(owner: TestUser, scopes: string[], app: App): Promise<string> {
    let person = people.get(owner.id);
    if (!person) people.set(owner.id, (person = new Browser(server.url)));
    const { redirect } = await authorize(person, {
      clientId: app.client_id,
      redirectUri: REDIRECT_URI,
      // No API scope at all: ask for openid alone (an authorization request names some scope).
      scope: scopes.length ? scopes.join(' ') : 'openid',
      state: 's',
      email: owner.email,
      password: owner.password,
    });
    const code = redirect.searchParams.get('code');
    assert.ok(code, `no code in ${redirect}`);
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        code,
        client_id: app.client_id,
        client_secret: app.client_secret,
        redirect_uri: REDIRECT_URI,
      }),
    });
    const tokens = (await res.json()) as { access_token?: string; scope?: string };
    assert.equal(res.status, 200, JSON.stringify(tokens));
    // The token must carry exactly what the case asked for, or the case would test something else.
    assert.deepEqual(
      String(tokens.scope)
        .split(' ')
        .filter((x) => x && x !== 'openid')
        .sort(),
      [...scopes].sort(),
      'OAuth token scopes',
    );
    return tokens.access_token!;
  }

  function jwtFor(sub: string, scopes: string[]): string {
    return make.jwt({ sub, scopes });
  }

  const memo = new Map<string, Promise<string>>();
  function token(method: BearerMethod, owner: TestUser, scopes: string[]): Promise<string> {
    const key = `${method}|${owner.id}|${[...scopes].sort().join(' ')}`;
    let p = memo.get(key);
    if (!p) {
      if (method === 'api_key') p = make.apiKey(owner, scopes).then((k) => k.key);
      else if (method === 'oauth') p = (sharedApp ??= newApp()).then((app) => mintOAuth(owner, scopes, app));
      else p = Promise.resolve(jwtFor(owner.id, scopes));
      memo.set(key, p);
      p.catch(() => memo.delete(key));
    }
    return p;
  }

  // Expired and revoked credentials are never consumed by a case, so each is made once too.
  const memoOnce = <T>(tag: string, build: (method: BearerMethod, owner: TestUser, scopes: string[]) => Promise<T>) => {
    const cache = new Map<string, Promise<T>>();
    return (method: BearerMethod, owner: TestUser, scopes: string[]): Promise<T> => {
      const key = `${tag}|${method}|${owner.id}|${[...scopes].sort().join(' ')}`;
      let p = cache.get(key);
      if (!p) {
        cache.set(key, (p = build(method, owner, scopes)));
        p.catch(() => cache.delete(key));
      }
      return p;
    };
  };

  async function makeExpired(method: BearerMethod, owner: TestUser, scopes: string[]) {
    if (method === 'api_key') {
      // Expires a minute from now; the case moves the clock two minutes on.
      const { key } = await make.apiKey(owner, scopes, { expiresAt: new Date(Date.now() + clock.offset + 60_000) });
      return { token: key, advanceMs: 120_000 };
    }
    if (method === 'oauth') {
      // A live token (not one any other case uses); the case moves the clock past its lifetime.
      const t = await mintOAuth(owner, scopes, await (sharedApp ??= newApp()));
      return { token: t, advanceMs: (server.config.ACCESS_TOKEN_TTL + 60) * 1000 };
    }
    // A JWT whose exp is an hour in the past (iat two hours back), signed as documented.
    const nowS = Math.floor(Date.now() / 1000);
    const t = jwt.sign({ sub: owner.id, scopes, iat: nowS - 7200, exp: nowS - 3600 }, TEST_JWT_SECRET, {
      issuer: 'api.example.com',
    });
    return { token: t, advanceMs: 0 };
  }

  async function makeRevoked(method: BearerMethod, owner: TestUser, scopes: string[]): Promise<string | null> {
    if (method === 'api_key') {
      const created = await make.apiKey(owner, scopes);
      await server.built.services.apiKeys.revoke(sessionPrincipal(owner), created.id, BY_SYSTEM);
      return created.key;
    }
    if (method === 'oauth') {
      // Its own application, so revoking it (and possibly its grant) touches no other case's token.
      const app = await newApp();
      const t = await mintOAuth(owner, scopes, app);
      const res = await fetch(`${server.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          token: t,
          token_type_hint: 'access_token',
          client_id: app.client_id,
          client_secret: app.client_secret,
        }),
      });
      assert.equal(res.status, 200, `revocation: ${await res.text()}`);
      return t;
    }
    return null; // Shared-secret JWTs are stateless: there is nothing to revoke.
  }

  /** Signs a new browser in as alice, keeps its cookie, and signs it out through the page's form. */
  async function endedSession(): Promise<string> {
    const browser = new Browser(server.url);
    const login = await (await browser.get('/login')).text();
    assert.equal(
      (await browser.postForm('/login', { _csrf: csrfFrom(login), email: alice.email, password: alice.password }))
        .status,
      303,
    );
    const cookie = browser.jar.header();
    const page = await (await browser.get('/dashboard')).text();
    assert.equal((await browser.postForm('/logout', { _csrf: csrfFrom(page) })).status, 303);
    return cookie;
  }
  let signedOut: Promise<string> | undefined;

  const expired = memoOnce('expired', makeExpired);
  const revoked = memoOnce('revoked', makeRevoked);

  return {
    server,
    make,
    alice,
    bob,
    admin,
    clock,
    token,
    expired,
    revoked,
    jwtFor,
    async ipBoundKey(owner, scopes, allowedIps) {
      return (await make.apiKey(owner, scopes, { allowedIps })).key;
    },
    freshUser: (tag = 'fresh') => make.user({ tag }),
    async authorizedApp(owner, scopes) {
      const app = await newApp();
      return { clientId: app.client_id, token: await mintOAuth(owner, scopes, app) };
    },
    signedOutCookie: () => (signedOut ??= endedSession()),
    async withClockAdvanced(ms, fn) {
      clock.offset += ms;
      try {
        return await fn();
      } finally {
        clock.offset -= ms;
      }
    },
    send: (req) => send(server, req),
    api: (method, path, t, body) => request(server, method, path, { bearer: t, body }),
    dispose: () => server.dispose(),
  };
}

// ---------------------------------------------------------------------------------------------
// Malformed credentials, derived from a live one of each method.

export interface MalformedCase {
  label: string;
  /** In the short list every route runs; the rest run on each group's first route only. */
  core?: true;
  authorization(valid: string, env: MatrixEnv, owner: TestUser): string;
  challenge: Challenge;
}

const flipLast = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
const flipMiddle = (s: string) => {
  const i = Math.floor(s.length / 2);
  return s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
};
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Header-level mistakes around a live token of the method (RFC 6750 §3.1 invalid_request). */
const HEADER_CASES: MalformedCase[] = [
  {
    label: 'malformed header: `Bearer` with two tokens',
    core: true,
    authorization: (t) => `Bearer ${t} ${t}`,
    challenge: CHALLENGE.invalidRequest,
  },
  {
    label: 'malformed header: the token under the `Basic` scheme',
    authorization: (t) => `Basic ${t}`,
    challenge: CHALLENGE.invalidRequest,
  },
];

/** Header-level mistakes that carry no token at all: run once per route, not per method. */
export const TOKENLESS_HEADERS: { label: string; core?: true; authorization: string }[] = [
  { label: 'malformed header: `Basic xyz`', core: true, authorization: 'Basic xyz' },
  { label: 'malformed header: `Bearer` without a token', core: true, authorization: 'Bearer' },
  { label: 'malformed header: an unknown scheme (`Token xyz`)', authorization: 'Token xyz' },
  { label: 'malformed header: `Bearer` with a token68-invalid character', authorization: 'Bearer abc,def' },
];

export const MALFORMED: Record<BearerMethod, MalformedCase[]> = {
  api_key: [
    {
      label: 'malformed: truncated key',
      core: true,
      authorization: (t) => `Bearer ${t.slice(0, -1)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'malformed: bad checksum',
      core: true,
      authorization: (t) => `Bearer ${flipLast(t)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'malformed: altered secret (checksum no longer matches)',
      authorization: (t) => `Bearer ${flipMiddle(t)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'forged: well-formed key that was never issued',
      core: true,
      authorization: () => `Bearer ${mintApiKey().key}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'forged: real key id, another secret with a valid checksum',
      authorization: (t) => `Bearer ${mintSecret(t.split('_').slice(0, 2).join('_'))}`,
      challenge: CHALLENGE.invalidToken,
    },
    ...HEADER_CASES,
  ],
  oauth: [
    {
      label: 'malformed: truncated token',
      core: true,
      authorization: (t) => `Bearer ${t.slice(0, -1)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'malformed: one character changed',
      core: true,
      authorization: (t) => `Bearer ${flipMiddle(t)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'forged: random opaque string of the same length',
      authorization: (t) => `Bearer ${'x'.repeat(t.length)}`,
      challenge: CHALLENGE.invalidToken,
    },
    ...HEADER_CASES,
  ],
  jwt: [
    {
      label: 'malformed: truncated signature',
      core: true,
      authorization: (t) => `Bearer ${t.slice(0, -2)}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'malformed: payload altered to claim admin:all (signature no longer matches)',
      authorization: (t) => {
        const [header, payload, signature] = t.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
        return `Bearer ${header}.${b64url({ ...claims, scopes: [ADMIN_SCOPE], tampered: true })}.${signature}`;
      },
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'forged: signed with another secret',
      core: true,
      authorization: (_t, _e, o) =>
        `Bearer ${jwt.sign({ sub: o.id, scopes: [ADMIN_SCOPE] }, 'not-the-server-secret-0123456789abcdef', {
          expiresIn: '1h',
          issuer: 'api.example.com',
        })}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'forged: alg none',
      core: true,
      authorization: (_t, _e, o) => {
        const nowS = Math.floor(Date.now() / 1000);
        const claims = { sub: o.id, scopes: [ADMIN_SCOPE], iss: 'api.example.com', iat: nowS, exp: nowS + 600 };
        return `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
      },
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'refused: HS512 instead of HS256',
      authorization: (_t, _e, o) =>
        `Bearer ${jwt.sign({ sub: o.id, scopes: [] }, TEST_JWT_SECRET, {
          algorithm: 'HS512',
          expiresIn: '1h',
          issuer: 'api.example.com',
        })}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'refused: wrong issuer',
      authorization: (_t, _e, o) =>
        `Bearer ${jwt.sign({ sub: o.id, scopes: [] }, TEST_JWT_SECRET, {
          expiresIn: '1h',
          issuer: 'evil.example.com',
        })}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'refused: no exp claim',
      authorization: (_t, _e, o) =>
        `Bearer ${jwt.sign({ sub: o.id, scopes: [] }, TEST_JWT_SECRET, { issuer: 'api.example.com' })}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'refused: lifetime beyond the 24 h cap',
      authorization: (_t, _e, o) =>
        `Bearer ${jwt.sign({ sub: o.id, scopes: [] }, TEST_JWT_SECRET, {
          expiresIn: '48h',
          issuer: 'api.example.com',
        })}`,
      challenge: CHALLENGE.invalidToken,
    },
    {
      label: 'refused: no sub claim',
      authorization: () =>
        `Bearer ${jwt.sign({ scopes: [] }, TEST_JWT_SECRET, { expiresIn: '1h', issuer: 'api.example.com' })}`,
      challenge: CHALLENGE.invalidToken,
    },
    ...HEADER_CASES,
  ],
};

// ---------------------------------------------------------------------------------------------
// The matrix, generated from the route specs.

/** How a case's caller authenticates: a bearer credential, or the dashboard session cookie. */
export type CredentialKind = BearerMethod | 'session';

export interface RequestContext {
  env: MatrixEnv;
  method: CredentialKind;
  /** The account the credential speaks for. */
  caller: TestUser;
  /** Whose resource the request addresses: the caller's own, or another user's (bob's). */
  target: 'self' | 'other';
  /**
   * Whether the case expects the call to succeed. A refused call changes nothing, so its fixture
   * may be one made once and shared; a successful one may consume it (a revocation, a deletion).
   */
  succeeds: boolean;
}

export interface RouteRequest {
  path: string;
  body?: unknown;
}

/**
 * What a `*.security.test.ts` supplies for one route, keyed by its operationId: only what the
 * route spec cannot say (method, path, required scopes and success status come from the spec).
 */
export interface RouteFixture {
  /** The request for a case (path and body); may create fixtures (a project, a key) for ctx.caller or bob. */
  request(ctx: RequestContext): Promise<RouteRequest> | RouteRequest;
  /** Extra checks on a successful answer. */
  check?(res: MatrixResponse, ctx: RequestContext): void | Promise<void>;
  /**
   * The resource belongs to someone: also run "another user's resource" with the required scope
   * (refused with the documented 403, as a made-up id is: the one ownership rule, Principal.ownedOrAdmin)
   * and with admin:all, by bearer credential and by session. admin:all gets the other user's
   * resource, unless `adminReachesOthers` is false: the route addresses the resource within the
   * caller's own account (a consent by client id), so admin:all finds none of its own there (404).
   */
  owned?: { othersAre: 'forbidden'; adminReachesOthers?: boolean };
  /** Successful calls consume their non-admin caller (e.g. deleting yourself): use a fresh account each time. */
  consumesCaller?: boolean;
}
export type RouteFixtures = Record<string, RouteFixture>;

type MatrixRoute = ApiRoute & RouteFixture;

type Expectation =
  | { kind: 'ok' }
  | { kind: 'unauthorized'; challenge: Challenge }
  | { kind: 'insufficient_scope'; scope: string }
  | { kind: 'forbidden' }
  | { kind: 'forbidden_code' }
  | { kind: 'not_found' };

interface Presented {
  caller: TestUser;
  authorization?: string;
  /** The dashboard session cookie (instead of an Authorization header). */
  cookie?: string;
  headers?: Record<string, string>;
  /** Clock advance while the credential is used. */
  advanceMs?: number;
  ip?: string;
}

interface CaseSpec {
  label: string;
  kind: CredentialKind;
  target: 'self' | 'other';
  expect: Expectation;
  present(env: MatrixEnv, route: MatrixRoute): Promise<Presented>;
}

/** The scopes a bearer credential needs: the spec's, or admin:all where only a session or an admin may call. */
const requiredScopes = (route: ApiRoute): string[] => ('scopes' in route.auth ? route.auth.scopes : [ADMIN_SCOPE]);
/** Routes managed "from the dashboard or with admin:all" take any signed-in account's session. */
const anySession = (route: ApiRoute): boolean => !('scopes' in route.auth);
/** The documented rule: every required scope, or admin:all (which implies the rest). */
const satisfies = (held: string[], required: string[]) =>
  held.includes(ADMIN_SCOPE) || required.every((s) => held.includes(s));
/** A dashboard session holds its account's rights. */
const sessionScopes = (admin: boolean) => (admin ? [ADMIN_SCOPE] : NON_ADMIN_SCOPES);

const statusOf = (route: ApiRoute, e: Expectation): string =>
  e.kind === 'ok'
    ? String(route.status)
    : e.kind === 'unauthorized'
      ? `401 ${e.challenge}`
      : e.kind === 'insufficient_scope'
        ? `403 insufficient_scope`
        : e.kind === 'not_found'
          ? '404'
          : '403';

/** What a caller holding `held` (an admin or not) gets on the caller's own or another user's resource. */
function expectationFor(route: MatrixRoute, held: string[], session: boolean, target: 'self' | 'other'): Expectation {
  const required = requiredScopes(route);
  if (!(session && anySession(route)) && !satisfies(held, required))
    return { kind: 'insufficient_scope', scope: required.join(' ') };
  if (target === 'self' || !route.owned) return { kind: 'ok' };
  const { othersAre, adminReachesOthers = true } = route.owned;
  if (!held.includes(ADMIN_SCOPE)) return { kind: othersAre };
  return adminReachesOthers ? { kind: 'ok' } : { kind: 'not_found' };
}

async function callerFor(env: MatrixEnv, route: MatrixRoute, admin: boolean, e: Expectation): Promise<TestUser> {
  if (admin) return env.admin;
  if (e.kind === 'ok' && route.consumesCaller) return env.freshUser('consumed');
  return env.alice;
}

/** The bearer scope variants: none at all, a different one, the required one, admin:all. */
function scopeVariants(route: MatrixRoute, method: BearerMethod): { label: string; scopes: string[] }[] {
  const required = requiredScopes(route);
  const variants: { label: string; scopes: string[] }[] = [];
  // An API key carries at least one scope; OAuth tokens and JWTs can carry none.
  if (method !== 'api_key') variants.push({ label: 'no scope at all', scopes: [] });
  const others = required.length ? NON_ADMIN_SCOPES.filter((s) => !required.includes(s)) : ['read:applications'];
  variants.push({
    label: required.length ? `a different scope (every other one but ${required.join(' ')})` : 'an unrelated scope',
    scopes: others,
  });
  if (required.length) variants.push({ label: `the required scope (${required.join(' ')})`, scopes: required });
  if (!(required.length === 1 && required[0] === ADMIN_SCOPE))
    variants.push({ label: 'admin:all', scopes: [ADMIN_SCOPE] });
  return variants;
}

/** The scopes of a credential that passes the scope check (for expired, revoked, malformed, IP cases). */
const passingScopes = (route: MatrixRoute, method: BearerMethod): string[] => {
  const required = requiredScopes(route);
  return required.length ? required : method === 'jwt' ? [] : ['read:users'];
};

function bearerCases(route: MatrixRoute, method: BearerMethod, fullCatalogue: boolean): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const live = (label: string, scopes: string[], target: 'self' | 'other'): CaseSpec => {
    const admin = scopes.includes(ADMIN_SCOPE);
    const expect = expectationFor(route, scopes, false, target);
    return {
      label: `${label}${target === 'other' ? " on another user's resource" : ''} -> ${statusOf(route, expect)}`,
      kind: method,
      target,
      expect,
      async present(env) {
        const caller = await callerFor(env, route, admin, expect);
        return { caller, authorization: `Bearer ${await env.token(method, caller, scopes)}` };
      },
    };
  };
  for (const v of scopeVariants(route, method)) cases.push(live(v.label, v.scopes, 'self'));
  if (route.owned) {
    const required = requiredScopes(route);
    if (!required.includes(ADMIN_SCOPE))
      cases.push(live(`the required scope (${required.join(' ')})`, required, 'other'));
    cases.push(live('admin:all', [ADMIN_SCOPE], 'other'));
  }

  const refusedWith = (
    label: string,
    challenge: Challenge,
    present: (env: MatrixEnv, scopes: string[], caller: TestUser) => Promise<Omit<Presented, 'caller'>>,
  ): CaseSpec => ({
    label: `${label} -> 401 ${challenge}`,
    kind: method,
    target: 'self',
    expect: { kind: 'unauthorized', challenge },
    async present(env) {
      const scopes = passingScopes(route, method);
      const caller = await callerFor(env, route, scopes.includes(ADMIN_SCOPE), { kind: 'unauthorized', challenge });
      return { caller, ...(await present(env, scopes, caller)) };
    },
  });
  cases.push(
    refusedWith('expired', CHALLENGE.invalidToken, async (env, scopes, caller) => {
      const { token, advanceMs } = await env.expired(method, caller, scopes);
      return { authorization: `Bearer ${token}`, advanceMs };
    }),
  );
  if (method !== 'jwt') {
    cases.push(
      refusedWith('revoked', CHALLENGE.invalidToken, async (env, scopes, caller) => ({
        authorization: `Bearer ${(await env.revoked(method, caller, scopes))!}`,
      })),
    );
  }
  for (const mal of MALFORMED[method].filter((m) => fullCatalogue || m.core)) {
    cases.push(
      refusedWith(mal.label, mal.challenge, async (env, scopes, caller) => ({
        authorization: mal.authorization(await env.token(method, caller, scopes), env, caller),
      })),
    );
  }

  if (method === 'api_key') {
    const ipCase = (label: string, ip: string, allowed: boolean): CaseSpec => {
      const expect: Expectation = allowed ? { kind: 'ok' } : { kind: 'forbidden_code' };
      return {
        label: `${label} -> ${statusOf(route, expect)}`,
        kind: method,
        target: 'self',
        expect,
        async present(env) {
          const scopes = passingScopes(route, method);
          const caller = await callerFor(env, route, scopes.includes(ADMIN_SCOPE), expect);
          return {
            caller,
            authorization: `Bearer ${await env.ipBoundKey(caller, scopes, ['203.0.113.0/24', '2001:db8::/32'])}`,
            ip,
          };
        },
      };
    };
    cases.push(
      ipCase(
        'wrong IP: key allowed only from 203.0.113.0/24 and 2001:db8::/32, used from 198.51.100.7',
        '198.51.100.7',
        false,
      ),
      ipCase('wrong IP (IPv6): used from 2001:db9::1', '2001:db9::1', false),
      ipCase('allowed IP: the same key used from 203.0.113.9', '203.0.113.9', true),
    );
  }
  return cases;
}

/** The dashboard session cookie, on every route (each router accepts it; the OpenAPI document says so). */
function sessionCases(route: MatrixRoute): CaseSpec[] {
  const live = (label: string, admin: boolean, target: 'self' | 'other'): CaseSpec => {
    const expect = expectationFor(route, sessionScopes(admin), true, target);
    return {
      label: `${label}${target === 'other' ? " on another user's resource" : ''} -> ${statusOf(route, expect)}`,
      kind: 'session',
      target,
      expect,
      async present(env) {
        const caller = await callerFor(env, route, admin, expect);
        return { caller, cookie: caller.browser.jar.header() };
      },
    };
  };
  const cases = [live("an ordinary account's session", false, 'self'), live("an admin's session", true, 'self')];
  if (route.owned)
    cases.push(live("an ordinary account's session", false, 'other'), live("an admin's session", true, 'other'));
  cases.push({
    label: 'a signed-out session cookie -> 401 Bearer',
    kind: 'session',
    target: 'self',
    expect: { kind: 'unauthorized', challenge: CHALLENGE.missing },
    async present(env) {
      return { caller: env.alice, cookie: await env.signedOutCookie() };
    },
  });
  if (route.method !== 'GET') {
    // /v2 does not read the session cookie on a cross-origin request at all (its CORS is for bearer
    // tokens only): no credential, 401. Elsewhere the cookie is read and the CSRF check refuses it.
    const crossOriginIgnoresCookie = route.path.startsWith('/v2/');
    cases.push({
      label: crossOriginIgnoresCookie
        ? 'a cross-site write with the session cookie (Origin: https://evil.example) -> 401 (cookie not read)'
        : 'a cross-site write with the session cookie (Origin: https://evil.example) -> 403',
      kind: 'session',
      target: 'self',
      expect: crossOriginIgnoresCookie
        ? { kind: 'unauthorized', challenge: CHALLENGE.missing }
        : { kind: 'forbidden_code' },
      async present(env) {
        return {
          caller: env.alice,
          cookie: env.alice.browser.jar.header(),
          headers: { Origin: 'https://evil.example' },
        };
      },
    });
  }
  return cases;
}

/** Runs one generated case. */
async function runCase(env: MatrixEnv, route: MatrixRoute, c: CaseSpec): Promise<void> {
  const p = await c.present(env, route);
  const ctx: RequestContext = {
    env,
    method: c.kind,
    caller: p.caller,
    target: c.target,
    succeeds: c.expect.kind === 'ok',
  };
  const req = await route.request(ctx);
  const call = () =>
    env.send({
      method: route.method,
      path: req.path,
      body: req.body,
      authorization: p.authorization ?? null,
      ...(p.ip ? { ip: p.ip } : {}),
      headers: { ...(p.cookie ? { Cookie: p.cookie } : {}), ...p.headers },
    });
  const res = p.advanceMs ? await env.withClockAdvanced(p.advanceMs, call) : await call();
  const exp = c.expect;
  switch (exp.kind) {
    case 'ok':
      assert.equal(res.status, route.status, show(res));
      await route.check?.(res, ctx);
      break;
    case 'unauthorized':
      assertUnauthorized(res, exp.challenge);
      break;
    case 'insufficient_scope':
      assertInsufficientScope(res, exp.scope);
      break;
    case 'forbidden':
      assertForbidden(res);
      break;
    case 'forbidden_code':
      assertForbiddenCode(res);
      break;
    case 'not_found':
      assertNotFound(res);
      break;
  }
}

export interface ExtraCase {
  label: string;
  run(env: MatrixEnv): Promise<void>;
}

/** The longest common path prefix of the routes (whole segments, no parameters): the matrix's title. */
function commonPrefix(paths: string[]): string {
  const split = paths.map((p) => p.split('/'));
  const out: string[] = [];
  for (let i = 0; split.every((s) => i < s.length && s[i] === split[0]![i] && !s[i]!.startsWith(':')); i++)
    out.push(split[0]![i]!);
  return out.join('/') || '/';
}

/**
 * Registers the whole matrix for the API tags `fileUrl` (the caller's `import.meta.url`) covers in
 * SECURITY_TEST_FILES: one server, then per route of those tags a "no credential" case, the
 * token-less header cases, every bearer case per credential method, and the session cases. A route
 * of those tags without a fixture, or a fixture for no such route, is a failing test. `extras` are
 * route-specific cases the table cannot express (unbound JWTs, what a refusal leaves unchanged...).
 */
export function securityMatrix(
  fileUrl: string,
  fixtures: RouteFixtures,
  extras: ExtraCase[] = [],
  opts: { env?: Record<string, string> } = {},
): void {
  const tags = tagsCoveredBy(fileUrl);
  const specs = listApiRoutes().filter((r) => tags.includes(r.tag));
  describe(`security matrix: ${commonPrefix(specs.map((r) => r.path))}`, () => {
    let env: MatrixEnv & { dispose(): Promise<void> };
    before(async () => {
      env = await createMatrixEnv(opts);
    });
    after(() => env?.dispose());

    it('covers every route of its tags, and only those', () => {
      assert.ok(tags.length > 0, `${fileUrl} is not listed in SECURITY_TEST_FILES (test/support/api-routes.ts)`);
      assert.deepEqual(
        specs.filter((r) => !fixtures[r.operationId]).map((r) => `${r.label} (${r.operationId})`),
        [],
        'routes without a fixture',
      );
      const known = new Set(specs.map((r) => r.operationId));
      assert.deepEqual(
        Object.keys(fixtures).filter((id) => !known.has(id)),
        [],
        'fixtures for no route of these tags',
      );
    });

    specs.forEach((spec, index) => {
      const fixture = fixtures[spec.operationId];
      if (!fixture) return;
      const route: MatrixRoute = { ...spec, ...fixture };
      // The whole catalogue of malformed credentials on the first route; the core of it on the
      // others (the authenticate step is shared, so repeating every variant adds no coverage).
      const fullCatalogue = index === 0;
      describe(route.label, () => {
        it('no credential -> 401 with `WWW-Authenticate: Bearer`', async () => {
          const req = await route.request({
            env,
            method: 'api_key',
            caller: env.alice,
            target: 'self',
            succeeds: false,
          });
          assertUnauthorized(
            await env.send({ method: route.method, path: req.path, body: req.body }),
            CHALLENGE.missing,
          );
        });
        for (const h of TOKENLESS_HEADERS.filter((x) => fullCatalogue || x.core)) {
          it(`${h.label} -> 401 ${CHALLENGE.invalidRequest}`, async () => {
            const req = await route.request({
              env,
              method: 'api_key',
              caller: env.alice,
              target: 'self',
              succeeds: false,
            });
            assertUnauthorized(
              await env.send({ method: route.method, path: req.path, body: req.body, authorization: h.authorization }),
              CHALLENGE.invalidRequest,
            );
          });
        }
        for (const method of BEARER_METHODS) {
          describe(method, () => {
            for (const c of bearerCases(route, method, fullCatalogue)) it(c.label, () => runCase(env, route, c));
          });
        }
        describe('session', () => {
          for (const c of sessionCases(route)) it(c.label, () => runCase(env, route, c));
        });
      });
    });

    if (extras.length) {
      describe('specific cases', () => {
        for (const x of extras) it(x.label, () => x.run(env));
      });
    }
  });
}
