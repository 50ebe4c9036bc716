/**
 * Shared helpers for the OAuth integration tests: a developer with a registered application, end
 * users, the code flow up to the token response, and calls to the token, introspection and
 * revocation endpoints over real HTTP.
 */
import crypto from 'node:crypto';
import type { TestServer } from './server.ts';
import { Browser, authorize, csrfFrom, type AuthorizeOptions } from './http.ts';
import { REDIRECT_URI, request, worldOn, type JsonAnswer, type RegisteredApp } from './world.ts';

export type { RegisteredApp };

export interface User {
  email: string;
  password: string;
}

/** Signs a browser in to the dashboard through the real /login form. */
export async function logIn(browser: Browser, user: User): Promise<void> {
  const page = await (await browser.get('/login')).text();
  const res = await browser.postForm('/login', { _csrf: csrfFrom(page), email: user.email, password: user.password });
  if (res.status !== 303) throw new Error(`login failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
}

/** A developer signs up and registers an application with the documented body. */
export async function newApp(
  server: TestServer,
  body: { scopes: string[]; type?: string; redirect_uris?: string[]; name?: string },
  developer?: Browser,
): Promise<RegisteredApp> {
  const world = worldOn(server);
  const owner = developer ? { browser: developer } : await world.user({ tag: 'dev' });
  return world.app(owner, body);
}

/** An RFC 7636 verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.hash('sha256', verifier, 'base64url') };
}

export const basicAuth = (app: RegisteredApp) =>
  `Basic ${Buffer.from(`${app.client_id}:${app.client_secret ?? ''}`).toString('base64')}`;

/** What the token, introspection and revocation helpers answer (the one JSON client's answer). */
export type JsonResponse = JsonAnswer;

/** POSTs a JSON body to `path` on the server, as an anonymous client (or with `headers`). */
const post = (server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  request(server, 'POST', path, { body, headers });

/** The token endpoint with the documented JSON body; the client secret (if any) goes in the body. */
export function token(server: TestServer, app: RegisteredApp, body: Record<string, unknown>): Promise<JsonResponse> {
  return post(server, '/oauth/token', {
    client_id: app.client_id,
    ...(app.client_secret ? { client_secret: app.client_secret } : {}),
    ...body,
  });
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  scope?: string;
  [key: string]: unknown;
}

/** A refresh that must succeed; returns the new tokens. */
export async function refresh(server: TestServer, app: RegisteredApp, refreshToken: string): Promise<TokenSet> {
  const res = await token(server, app, { grant_type: 'refresh_token', refresh_token: refreshToken });
  if (res.status !== 200) throw new Error(`refresh failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as TokenSet;
}

/** Response headers that differ from one request to the next whatever the answer. */
const PER_REQUEST_HEADERS = new Set(['date', 'x-request-id']);

/** An answer as the tests compare two of them: status, headers (but the per-request ones) and body text. */
export async function answerOf(res: JsonAnswer): Promise<{ status: number; headers: string[]; text: string }> {
  const headers = [...res.headers].filter(([name]) => !PER_REQUEST_HEADERS.has(name)).map(([n, v]) => `${n}: ${v}`);
  return { status: res.status, headers, text: await res.text() };
}

/**
 * RFC 7662 introspection authenticated as `as` (HTTP Basic); returns the JSON body. Every token is
 * asked about twice, without a `token_type_hint` and with `refresh_token`: a hint only says where
 * to look first (§2.1), so the two answers must be the same, headers and body byte for byte.
 * They are also the two ways an answer is made: Latchkey answers a plain request about an access
 * token itself, and leaves one that hints at a refresh token to oidc-provider
 * (src/oidc/provider-introspection.ts).
 */
export async function introspect(
  server: TestServer,
  as: RegisteredApp,
  tokenValue: string,
): Promise<Record<string, unknown>> {
  const headers = { Authorization: basicAuth(as) };
  const res = await post(server, '/oauth/introspect', { token: tokenValue }, headers);
  if (res.status !== 200) throw new Error(`introspection failed: ${res.status} ${JSON.stringify(res.body)}`);
  const hinted = await post(
    server,
    '/oauth/introspect',
    { token: tokenValue, token_type_hint: 'refresh_token' },
    headers,
  );
  const [plain, asProvider] = [await answerOf(res), await answerOf(hinted)];
  if (JSON.stringify(plain) !== JSON.stringify(asProvider)) {
    throw new Error(`the answer depends on the hint:\n${JSON.stringify(plain)}\n${JSON.stringify(asProvider)}`);
  }
  return res.body;
}

/** RFC 7009 revocation authenticated as `as` (HTTP Basic); answers 200 with an empty body. */
export async function revoke(server: TestServer, as: RegisteredApp, tokenValue: string): Promise<number> {
  const res = await post(server, '/oauth/revoke', { token: tokenValue }, { Authorization: basicAuth(as) });
  return res.status;
}

/**
 * Runs the browser part of the code flow (login and consent as needed) for `user` in `browser`
 * (a fresh one by default) and returns the redirect back to the client.
 */
export async function authorizeAs(
  server: TestServer,
  app: RegisteredApp,
  user: User,
  o: Partial<AuthorizeOptions> & { decision?: 'approve' | 'deny'; browser?: Browser } = {},
) {
  const browser = o.browser ?? new Browser(server.url);
  return authorize(browser, {
    clientId: app.client_id,
    redirectUri: o.redirectUri ?? REDIRECT_URI,
    scope: o.scope ?? 'read:users',
    state: o.state ?? crypto.randomBytes(8).toString('hex'),
    ...(o.codeChallenge ? { codeChallenge: o.codeChallenge } : {}),
    ...(o.extra ? { extra: o.extra } : {}),
    ...(o.decision ? { decision: o.decision } : {}),
    email: user.email,
    password: user.password,
  });
}

/** Authorization code flow to the token response (web app; PKCE when `verifier` is given). */
export async function codeFlow(
  server: TestServer,
  app: RegisteredApp,
  user: User,
  o: { scope?: string; browser?: Browser; pkce?: { verifier: string; challenge: string } } = {},
): Promise<TokenSet & { code: string; sawLogin: boolean; sawConsent: boolean }> {
  const { redirect, sawLogin, sawConsent } = await authorizeAs(server, app, user, {
    ...(o.scope ? { scope: o.scope } : {}),
    ...(o.browser ? { browser: o.browser } : {}),
    ...(o.pkce ? { codeChallenge: o.pkce.challenge } : {}),
  });
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code in redirect: ${redirect}`);
  const res = await token(server, app, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    ...(o.pkce ? { code_verifier: o.pkce.verifier } : {}),
  });
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...(res.body as TokenSet), code, sawLogin, sawConsent };
}

/** Asserts nothing in an HTML error page looks like a stack trace or an internal error. */
export function looksLikeStackTrace(html: string): boolean {
  return /\bat [\w.<>$]+ \(|node_modules|\.ts:\d+|\.js:\d+|Error: /.test(html);
}
