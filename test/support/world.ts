/**
 * TestWorld: the one fixture an HTTP-level test starts from. It runs the real server
 * (`startTestServer`: real HTTP on loopback, a real SQLite file, or a fresh PostgreSQL database
 * under TEST_DATABASE=postgres), makes real credentials through the server's own code paths, and
 * talks to it with one JSON client.
 *
 * How a new test starts:
 *
 *   import { startWorld, type TestWorld } from '../../test/support/world.ts';
 *
 *   describe('projects', () => {
 *     let world: TestWorld;
 *     before(async () => (world = await startWorld()));   // same options as startTestServer
 *     after(() => world.close());
 *
 *     it('lists my projects', async () => {
 *       const alice = await world.user();                  // signed-in browser in alice.browser
 *       const key = await world.apiKey(alice, ['read:projects']);
 *       const res = await world.request('GET', '/v2/projects', { bearer: key.key });
 *       assert.equal(res.status, 200);
 *     });
 *   });
 *
 * What it makes (every one issued by the server itself, nothing faked):
 * - `user({ admin, tag, twoFactor })`: an account and a browser signed in to the dashboard; with
 *   `twoFactor` the account has TOTP enrolled through the settings pages (`totp()` gives a code);
 * - `apiKey(owner, scopes)`: an API key, created through the service as the dashboard does;
 * - `app(owner, body)`: an OAuth application registered by `owner`'s browser;
 * - `oauthToken(owner, scopes)`: an access + refresh token through the real login and consent pages;
 * - `serviceToken(owner, scopes)`: a client_credentials token of a `service` application;
 * - `jwt(claims)`: a shared-secret JWT signed with TEST_JWT_SECRET on the server's clock (start the
 *   world with `credentialServerEnv` in `env`, which `startWorld` does by default).
 *
 * The JSON client is `request(target, method, path, { body, bearer, headers })`: `target` is a
 * server (anonymous), or a `Browser` (its cookie jar: a signed-in dashboard session). It answers
 * status, headers and the parsed body. Tests that already hold a `TestServer` get the same
 * factories with `worldOn(server)`.
 */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import * as OTPAuth from 'otpauth';
import { sessionPrincipal } from '../../src/domain/principal.ts';
import { Browser, authorize, csrfFrom, registerApp } from './http.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';

/** The password every factory-made account has. */
export const PASSWORD = 'correct horse battery';
/** Where factory-made web applications redirect to. */
export const REDIRECT_URI = 'https://myapp.com/callback';

/** The JWT secret test servers are started with (see credentialServerEnv). */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdef-0123456789';
/** Settings for a server that accepts shared-secret JWTs and reads X-Forwarded-For from one proxy. */
export const credentialServerEnv = { JWT_SECRET: TEST_JWT_SECRET, TRUST_PROXY: '1' };

let counter = 0;
/** A unique email per call, so tests sharing a server never collide. */
export const uniqueEmail = (label = 'user') =>
  `${label}-${++counter}-${crypto.randomBytes(3).toString('hex')}@example.com`;

// ---------------------------------------------------------------------------------------------
// The JSON client.

export interface RequestOptions {
  /** Sent as JSON; a string is sent as is (with the JSON content type), for malformed bodies. */
  body?: unknown;
  /** Sent as `Authorization: Bearer <token>`. */
  bearer?: string | undefined;
  headers?: Record<string, string>;
}

export interface JsonAnswer {
  status: number;
  headers: Headers;
  /**
   * The parsed JSON body; null when the answer has none (typed as an object for the tests' ease).
   * Reading it throws when the body is not JSON (use `text()` for pages).
   */
  readonly body: Record<string, unknown>;
  /** The body as text (as `Response.text()`, so helpers taking either work). */
  text(): Promise<string>;
  /** The parsed body (as `Response.json()`). */
  json<T = unknown>(): Promise<T>;
}

/**
 * One request to Latchkey's JSON APIs. `target` is the server (an anonymous caller) or a Browser
 * (its cookies go along, and the ones set come back into its jar). Redirects are not followed.
 */
export async function request(
  target: { url: string } | Browser,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = {
    ...(opts.bearer ? { Authorization: `Bearer ${opts.bearer}` } : {}),
    ...(opts.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    ...opts.headers,
  };
  const init: RequestInit = {
    method,
    headers,
    ...(opts.body !== undefined ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
  };
  const res = target instanceof Browser ? await target.request(path, init) : await fetch(`${target.url}${path}`, init);
  const text = await res.text();
  let parsed: { value: Record<string, unknown> } | { error: string } | undefined;
  const parse = () => {
    if (parsed) return parsed;
    try {
      parsed = { value: text ? (JSON.parse(text) as Record<string, unknown>) : (null as never) };
    } catch {
      parsed = { error: `expected JSON from ${method} ${path}, got ${res.status}: ${text.slice(0, 300)}` };
    }
    return parsed;
  };
  return {
    status: res.status,
    headers: res.headers,
    get body() {
      const p = parse();
      if ('error' in p) throw new Error(p.error);
      return p.value;
    },
    text: async () => text,
    json: async <T>() => JSON.parse(text) as T,
  };
}

// ---------------------------------------------------------------------------------------------
// The factories.

export interface TestUser {
  id: string;
  email: string;
  password: string;
  isAdmin: boolean;
  /** A browser signed in to the dashboard as this user. */
  browser: Browser;
}

export interface TwoFactorUser extends TestUser {
  totpSecret: string;
  recoveryCodes: string[];
  /** The TOTP code at `at` (ms, default the server's clock). */
  totp(at?: number): string;
}

export interface RegisteredApp {
  client_id: string;
  client_secret?: string;
  [key: string]: unknown;
}

export interface UserOptions {
  admin?: boolean;
  /** The email's prefix, to tell users apart in failures. */
  tag?: string;
  password?: string;
}

/** A world around a server that is already running (the caller stops it). */
export function worldOn(server: TestServer) {
  async function user(opts: UserOptions & { twoFactor?: false }): Promise<TestUser>;
  async function user(opts: UserOptions & { twoFactor: true }): Promise<TwoFactorUser>;
  async function user(): Promise<TestUser>;
  async function user(opts: UserOptions & { twoFactor?: boolean } = {}): Promise<TestUser | TwoFactorUser> {
    const email = uniqueEmail(opts.tag ?? 'user');
    const password = opts.password ?? PASSWORD;
    const account = await server.built.services.accounts.signUp(
      { email, password, isAdmin: opts.admin ?? false },
      BY_SYSTEM,
    );
    const browser = new Browser(server.url);
    const page = await (await browser.get('/login')).text();
    const res = await browser.postForm('/login', { _csrf: csrfFrom(page), email, password });
    if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
    const made: TestUser = { id: account.id, email, password, isAdmin: account.isAdmin, browser };
    return opts.twoFactor ? enrolTwoFactor(made) : made;
  }

  /** TOTP through the settings pages, as a person does (the browser has just signed in: fresh). */
  async function enrolTwoFactor(u: TestUser): Promise<TwoFactorUser> {
    const post = async (path: string, fields: Record<string, string> = {}) => {
      const page = await (await u.browser.get('/settings/security')).text();
      return u.browser.postForm(path, { _csrf: csrfFrom(page), ...fields });
    };
    const begun = await post('/settings/security/2fa/begin');
    const secretMatch = /id="totp-secret">([A-Z2-7]+)</.exec(await begun.text());
    if (begun.status !== 200 || !secretMatch) throw new Error(`2FA enrolment did not start: ${begun.status}`);
    const totpSecret = secretMatch[1]!;
    const totp = (at = server.now()) =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(totpSecret), digits: 6, period: 30 }).generate({
        timestamp: at,
      });
    // On: a redirect to the recovery codes, shown from there.
    const confirmed = (await u.browser.follow(await post('/settings/security/2fa/confirm', { code: totp() }))).res;
    const html = await confirmed.text();
    const recoveryCodes = [...html.matchAll(/<li><code>([A-Z0-9-]{19})<\/code><\/li>/g)].map((m) => m[1]!);
    if (confirmed.status !== 200 || recoveryCodes.length === 0)
      throw new Error(`2FA enrolment was not confirmed: ${confirmed.status}`);
    return { ...u, totpSecret, recoveryCodes, totp };
  }

  /** An OAuth application registered by `owner` (a new developer when omitted). */
  async function app(
    owner: Pick<TestUser, 'browser'> | undefined,
    body: { scopes: string[]; type?: string; redirect_uris?: string[]; name?: string },
  ): Promise<RegisteredApp> {
    const developer = owner ?? (await user({ tag: 'dev' }));
    const usesRedirects = !body.type || ['web', 'spa', 'native'].includes(body.type);
    return registerApp(developer.browser, {
      name: body.name ?? 'Test Application',
      redirect_uris: body.redirect_uris ?? (usesRedirects ? [REDIRECT_URI] : []),
      scopes: body.scopes,
      ...(body.type ? { type: body.type } : {}),
    });
  }

  return {
    server,
    url: server.url,
    user,
    app,

    /** The one JSON client, on this server (anonymous unless `bearer` is given). */
    request: (method: string, path: string, opts: RequestOptions = {}) => request(server, method, path, opts),

    /** An API key for `owner`, created through the service (as the dashboard would). */
    async apiKey(
      owner: TestUser,
      scopes: string[],
      opts: { expiresAt?: Date; allowedIps?: string[]; name?: string } = {},
    ) {
      return server.built.services.apiKeys.create(
        sessionPrincipal(owner),
        {
          name: opts.name ?? 'test key',
          scopes,
          ...(opts.expiresAt ? { expires_at: opts.expiresAt.toISOString() } : {}),
          ...(opts.allowedIps ? { allowed_ips: opts.allowedIps } : {}),
        },
        BY_SYSTEM,
      );
    },

    /** A user's OAuth access (and refresh) token, through the real login and consent pages. */
    async oauthToken(owner: TestUser, scopes: string[]) {
      const dev = owner.isAdmin ? owner : await user({ admin: scopes.includes('admin:all'), tag: 'dev' });
      const redirectUri = 'https://client.example/callback';
      const registered = await registerApp(dev.browser, { name: 'Test client', redirect_uris: [redirectUri], scopes });
      const { redirect } = await authorize(new Browser(server.url), {
        clientId: registered.client_id,
        redirectUri,
        scope: scopes.join(' '),
        state: 's',
        email: owner.email,
        password: owner.password,
      });
      const res = await request(server, 'POST', '/oauth/token', {
        body: {
          grant_type: 'authorization_code',
          code: redirect.searchParams.get('code'),
          client_id: registered.client_id,
          client_secret: registered.client_secret,
          redirect_uri: redirectUri,
        },
      });
      if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`);
      const tokens = res.body as { access_token: string; refresh_token: string; scope: string };
      return { ...tokens, app: registered };
    },

    /** A client-credentials token of a `service` application owned by `owner`. */
    async serviceToken(owner: TestUser, scopes: string[]) {
      const registered = await registerApp(owner.browser, {
        name: 'Service',
        type: 'service',
        redirect_uris: [],
        scopes,
      });
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: registered.client_id,
          client_secret: registered.client_secret!,
          scope: scopes.join(' '),
        }).toString(),
      });
      if (res.status !== 200) throw new Error(`client_credentials failed: ${res.status} ${await res.text()}`);
      return { ...((await res.json()) as { access_token: string; scope: string }), app: registered };
    },

    /** A shared-secret JWT signed as the API reference signs it (jsonwebtoken, HS256), on the server's clock. */
    jwt(
      claims: { sub: string; scopes?: string[]; scope?: string; name?: string },
      opts: { expiresIn?: string | number; issuer?: string; secret?: string } = {},
    ) {
      return jwt.sign({ iat: Math.floor(server.now() / 1000), ...claims }, opts.secret ?? TEST_JWT_SECRET, {
        expiresIn: (opts.expiresIn ?? '1h') as jwt.SignOptions['expiresIn'],
        issuer: opts.issuer ?? 'api.example.com',
      });
    },
  };
}

export type World = ReturnType<typeof worldOn>;

export interface TestWorld extends World {
  /** Stops the server and deletes its database and folder. */
  close(): Promise<void>;
}

/**
 * Starts the real server (options as `startTestServer`; JWT_SECRET and TRUST_PROXY from
 * `credentialServerEnv` unless `env` overrides them) and the world around it.
 */
export async function startWorld(opts: TestServerOptions = {}): Promise<TestWorld> {
  const server = await startTestServer({ ...opts, env: { ...credentialServerEnv, ...opts.env } });
  return { ...worldOn(server), close: () => server.dispose() };
}
