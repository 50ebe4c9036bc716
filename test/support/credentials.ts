import jwt from 'jsonwebtoken';
import type { TestServer } from './server.ts';
import { Browser, authorize, registerApp } from './http.ts';
import { sessionPrincipal } from '../../src/domain/principal.ts';

/** The JWT secret test servers are started with (see credentialServerEnv). */
export const TEST_JWT_SECRET = 'test-jwt-secret-0123456789abcdef-0123456789';
export const credentialServerEnv = { JWT_SECRET: TEST_JWT_SECRET, TRUST_PROXY: '1' };

export interface TestUser {
  id: string;
  email: string;
  password: string;
  isAdmin: boolean;
  /** A browser signed in to the dashboard as this user. */
  browser: Browser;
}

let counter = 0;
const uniqueEmail = (tag: string) => `${tag}-${Date.now().toString(36)}-${counter++}@example.com`;

/**
 * Makes real credentials against a running test server: accounts, API keys, OAuth access tokens
 * (through the real browser flow or client credentials) and shared-secret JWTs. Nothing is faked:
 * every credential is issued by the server's own code paths.
 */
export function credentialFactory(server: TestServer) {
  const { accounts, apiKeys } = server.built.services;

  async function user(opts: { admin?: boolean; tag?: string } = {}): Promise<TestUser> {
    const email = uniqueEmail(opts.tag ?? 'user');
    const password = 'a long test passphrase';
    const account = await accounts.signUp({ email, password, isAdmin: opts.admin ?? false });
    const browser = new Browser(server.url);
    const page = await (await browser.get('/login')).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const res = await browser.postForm('/login', { _csrf: csrf, email, password });
    if (res.status !== 303) throw new Error(`login failed: ${res.status}`);
    return { id: account.id, email, password, isAdmin: account.isAdmin, browser };
  }

  return {
    user,

    /** An API key for `owner`, created through the service (as the dashboard would). */
    async apiKey(
      owner: TestUser,
      scopes: string[],
      opts: { expiresAt?: Date; allowedIps?: string[]; name?: string } = {},
    ) {
      return apiKeys.create(sessionPrincipal(owner), {
        name: opts.name ?? 'test key',
        scopes,
        ...(opts.expiresAt ? { expires_at: opts.expiresAt.toISOString() } : {}),
        ...(opts.allowedIps ? { allowed_ips: opts.allowedIps } : {}),
      });
    },

    /** A user's OAuth access (and refresh) token, through the real login and consent pages. */
    async oauthToken(owner: TestUser, scopes: string[]) {
      const dev = owner.isAdmin ? owner : await user({ admin: scopes.includes('admin:all'), tag: 'dev' });
      const redirectUri = 'https://client.example/callback';
      const app = await registerApp(dev.browser, { name: 'Test client', redirect_uris: [redirectUri], scopes });
      const person = new Browser(server.url);
      const { redirect } = await authorize(person, {
        clientId: app.client_id,
        redirectUri,
        scope: scopes.join(' '),
        state: 's',
        email: owner.email,
        password: owner.password,
      });
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'authorization_code',
          code: redirect.searchParams.get('code'),
          client_id: app.client_id,
          client_secret: app.client_secret,
          redirect_uri: redirectUri,
        }),
      });
      if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`);
      const tokens = (await res.json()) as { access_token: string; refresh_token: string; scope: string };
      return { ...tokens, app };
    },

    /** A client-credentials token of a `service` application owned by `owner`. */
    async serviceToken(owner: TestUser, scopes: string[]) {
      const app = await registerApp(owner.browser, { name: 'Service', type: 'service', redirect_uris: [], scopes });
      const res = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: app.client_id,
          client_secret: app.client_secret!,
          scope: scopes.join(' '),
        }).toString(),
      });
      if (res.status !== 200) throw new Error(`client_credentials failed: ${res.status} ${await res.text()}`);
      return { ...((await res.json()) as { access_token: string; scope: string }), app };
    },

    /** A shared-secret JWT signed as documented (jsonwebtoken, HS256), issued on the server's clock. */
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
export type CredentialFactory = ReturnType<typeof credentialFactory>;

/** GET/POST to the API with a bearer token; returns status, headers and parsed JSON body. */
export async function api(
  server: TestServer,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : null,
  };
}
