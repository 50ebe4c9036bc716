/**
 * Shared helpers for the OAuth integration tests: a developer with a registered application, end
 * users, the code flow up to the token response, and calls to the token, introspection and
 * revocation endpoints over real HTTP.
 */
import crypto from 'node:crypto';
import type { TestServer } from './server.ts';
import { Browser, authorize, csrfFrom, registerApp, signUp, type AuthorizeOptions } from './http.ts';

export const PASSWORD = 'correct horse battery';
export const REDIRECT_URI = 'https://myapp.com/callback';

let counter = 0;
/** A unique email per call, so tests sharing a server never collide. */
export const uniqueEmail = (label = 'user') =>
  `${label}-${++counter}-${crypto.randomBytes(3).toString('hex')}@example.com`;

export interface RegisteredApp {
  client_id: string;
  client_secret?: string;
}

export interface User {
  email: string;
  password: string;
}

/** Signs up a user through the real form, then forgets the browser (the next flow must log in). */
export async function newUser(server: TestServer, label = 'user'): Promise<User> {
  const email = uniqueEmail(label);
  await signUp(new Browser(server.url), email, PASSWORD);
  return { email, password: PASSWORD };
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
  let browser = developer;
  if (!browser) {
    browser = new Browser(server.url);
    await signUp(browser, uniqueEmail('dev'), PASSWORD);
  }
  const usesRedirects = !body.type || ['web', 'spa', 'native'].includes(body.type);
  return registerApp(browser, {
    name: body.name ?? 'Test Application',
    redirect_uris: body.redirect_uris ?? (usesRedirects ? [REDIRECT_URI] : []),
    scopes: body.scopes,
    ...(body.type ? { type: body.type } : {}),
  });
}

/** An RFC 7636 verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.hash('sha256', verifier, 'base64url') };
}

export const basicAuth = (app: RegisteredApp) =>
  `Basic ${Buffer.from(`${app.client_id}:${app.client_secret ?? ''}`).toString('base64')}`;

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a JSON body (or a raw string, sent as is with the JSON content type). */
export async function postJson(
  server: TestServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`expected JSON from ${path}, got ${res.status}: ${text.slice(0, 300)}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** The token endpoint with the documented JSON body; the client secret (if any) goes in the body. */
export function token(server: TestServer, app: RegisteredApp, body: Record<string, unknown>): Promise<JsonResponse> {
  return postJson(server, '/oauth/token', {
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

/** RFC 7662 introspection authenticated as `as` (HTTP Basic); returns the JSON body. */
export async function introspect(
  server: TestServer,
  as: RegisteredApp,
  tokenValue: string,
): Promise<Record<string, unknown>> {
  const res = await postJson(server, '/oauth/introspect', { token: tokenValue }, { Authorization: basicAuth(as) });
  if (res.status !== 200) throw new Error(`introspection failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** RFC 7009 revocation authenticated as `as` (HTTP Basic); answers 200 with an empty body. */
export async function revoke(server: TestServer, as: RegisteredApp, tokenValue: string): Promise<number> {
  const res = await fetch(`${server.url}/oauth/revoke`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: basicAuth(as) },
    body: JSON.stringify({ token: tokenValue }),
  });
  await res.arrayBuffer();
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
