/**
 * OpenID Connect relying-party helpers for the integration tests: the code flow as a relying party
 * runs it (form-encoded token requests, `client_secret_basic` or `client_secret_post`), the ID token
 * checked against the published keys, and calls to /oauth/userinfo in each of RFC 6750's ways.
 */
import crypto from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { Browser, authorizeUrl, csrfFrom, formAction } from './http.ts';
import type { TestServer } from './server.ts';
import { REDIRECT_URI, type RegisteredApp } from './world.ts';

/** How the application authenticates at the token endpoint (both are what the Basic OP plan runs). */
export type ClientAuth = 'client_secret_basic' | 'client_secret_post';
export const CLIENT_AUTH_METHODS: ClientAuth[] = ['client_secret_basic', 'client_secret_post'];

export interface Person {
  email: string;
  password: string;
  /** A second-factor code (TOTP or recovery), for an account with two-factor sign-in. */
  secondFactor?: () => string;
}

export interface SignInOptions {
  scope?: string;
  nonce?: string;
  /** The `claims` request parameter, as an object. */
  claims?: Record<string, unknown>;
  /** Further authorization request parameters. */
  extra?: Record<string, string>;
  auth?: ClientAuth;
  browser?: Browser;
  redirectUri?: string;
}

export interface OpenIdTokens {
  access_token: string;
  token_type: string;
  id_token: string;
  refresh_token?: string;
  scope?: string;
  expires_in: number;
}

/** A form-encoded token request, the client authenticated as `auth` says. */
export function tokenRequest(
  server: TestServer,
  app: RegisteredApp,
  params: Record<string, string>,
  auth: ClientAuth | 'none' = 'client_secret_basic',
): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const body = new URLSearchParams(params);
  if (auth === 'client_secret_basic') {
    const id = encodeURIComponent(app.client_id);
    const secret = encodeURIComponent(app.client_secret ?? '');
    headers['Authorization'] = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  } else {
    body.set('client_id', app.client_id);
    if (auth === 'client_secret_post') body.set('client_secret', app.client_secret ?? '');
  }
  return fetch(`${server.url}/oauth/token`, { method: 'POST', headers, body: body.toString() });
}

/**
 * The browser part of an authorization request: signs in (with the second factor when the person
 * has one) and approves consent when asked. Returns the redirect back to the application and the
 * consent page, if one was shown.
 */
export async function authorizeOpenId(
  server: TestServer,
  app: RegisteredApp,
  person: Person,
  o: SignInOptions = {},
): Promise<{ redirect: URL; consentHtml?: string; state: string }> {
  const browser = o.browser ?? new Browser(server.url);
  const state = crypto.randomBytes(8).toString('hex');
  const extra: Record<string, string> = { ...o.extra };
  if (o.nonce) extra['nonce'] = o.nonce;
  if (o.claims) extra['claims'] = JSON.stringify(o.claims);
  const url = authorizeUrl(server.url, {
    clientId: app.client_id,
    redirectUri: o.redirectUri ?? REDIRECT_URI,
    scope: o.scope ?? 'openid',
    state,
    extra,
  });
  let { res, url: at } = await browser.follow(await browser.get(url));
  let consentHtml: string | undefined;
  for (let step = 0; step < 5 && res.status === 200; step++) {
    const html = await res.text();
    let posted: Response;
    if (html.includes('name="password"')) {
      posted = await browser.postForm(formAction(html, '/login'), {
        _csrf: csrfFrom(html),
        email: person.email,
        password: person.password,
      });
    } else if (html.includes('/2fa"')) {
      if (!person.secondFactor) throw new Error('a second factor was asked of a person without one');
      const code = person.secondFactor();
      posted = await browser.postForm(formAction(html, '/2fa'), { _csrf: csrfFrom(html), code });
    } else if (html.includes('/confirm')) {
      consentHtml = html;
      posted = await browser.postForm(formAction(html, '/confirm'), { _csrf: csrfFrom(html) });
    } else {
      throw new Error(`unexpected page at ${at}: ${html.slice(0, 300)}`);
    }
    ({ res, url: at } = await browser.follow(posted));
  }
  if (res.status < 300 || res.status >= 400) {
    throw new Error(`authorization ended with ${res.status} at ${at}: ${(await res.text()).slice(0, 300)}`);
  }
  return { redirect: new URL(at), state, ...(consentHtml ? { consentHtml } : {}) };
}

/** The code flow to the token response (which must carry an ID token). */
export async function signInWithOpenId(
  server: TestServer,
  app: RegisteredApp,
  person: Person,
  o: SignInOptions = {},
): Promise<OpenIdTokens & { consentHtml?: string }> {
  const { redirect, consentHtml } = await authorizeOpenId(server, app, person, o);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code in ${redirect}`);
  const res = await tokenRequest(
    server,
    app,
    { grant_type: 'authorization_code', code, redirect_uri: o.redirectUri ?? REDIRECT_URI },
    o.auth,
  );
  const body = (await res.json()) as OpenIdTokens;
  if (res.status !== 200) throw new Error(`code exchange failed: ${res.status} ${JSON.stringify(body)}`);
  return { ...body, ...(consentHtml ? { consentHtml } : {}) };
}

/** The server's published keys (GET /oauth/jwks), as a relying party fetches them. */
export async function publishedKeys(server: TestServer) {
  const res = await fetch(`${server.url}/oauth/jwks`);
  return (await res.json()) as { keys: Array<Record<string, unknown>> };
}

/** Verifies an ID token as a relying party must (Core §3.1.3.7): signature, iss, aud, exp. */
export async function verifyIdToken(
  server: TestServer,
  app: RegisteredApp,
  idToken: string,
): Promise<{ payload: JWTPayload & Record<string, unknown>; header: ReturnType<typeof decodeProtectedHeader> }> {
  const jwks = createLocalJWKSet((await publishedKeys(server)) as never);
  const { payload } = await jwtVerify(idToken, jwks, {
    issuer: server.config.ISSUER,
    audience: app.client_id,
    algorithms: ['RS256', 'ES256'],
  });
  return { payload: payload as JWTPayload & Record<string, unknown>, header: decodeProtectedHeader(idToken) };
}

export type UserinfoWay = 'get' | 'post-header' | 'post-body';
export const USERINFO_WAYS: UserinfoWay[] = ['get', 'post-header', 'post-body'];

/** /oauth/userinfo with the token sent one of RFC 6750's ways (§2.1 header, §2.2 form body). */
export function userinfo(
  server: TestServer,
  accessToken: string,
  way: UserinfoWay = 'get',
  headers: Record<string, string> = {},
): Promise<Response> {
  const url = `${server.url}/oauth/userinfo`;
  const bearer = { Authorization: `Bearer ${accessToken}` };
  if (way === 'get') return fetch(url, { headers: { ...bearer, ...headers } });
  if (way === 'post-header') return fetch(url, { method: 'POST', headers: { ...bearer, ...headers } });
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ access_token: accessToken }).toString(),
  });
}
