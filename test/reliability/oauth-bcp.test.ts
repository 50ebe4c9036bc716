/**
 * OAuth 2.0 Security Best Current Practice (RFC 9700), one `it` per item that applies to an
 * authorization server of Latchkey's shape (authorization code + PKCE, refresh tokens, client
 * credentials; no implicit, no ROPC, no mTLS; DPoP and PAR have src/oidc/dpop.test.ts and
 * par.test.ts). The section of RFC 9700 is in each title.
 * Many items are also covered in depth elsewhere (named in the comments); these are the short
 * checks that map the BCP to tests one to one (SECURITY.md points here).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Browser, authorizeUrl, csrfFrom, formAction, registerApp, signUp } from '../support/http.ts';
import { signIn } from '../support/api.ts';
import {
  authorizeAs,
  basicAuth,
  codeFlow,
  introspect,
  pkcePair,
  token,
  type RegisteredApp,
  type User,
} from '../support/oauth.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';
import { mintSecret } from '../../src/shared/secrets.ts';
import { postForms, source, viewTemplates } from './helpers.ts';
import * as OTPAuth from 'otpauth';
import { PASSWORD, REDIRECT_URI, worldOn, request, uniqueEmail } from '../support/world.ts';

describe('OAuth 2.0 Security BCP (RFC 9700)', () => {
  /** The server's clock runs with real time plus this offset (moved to pass the refresh grace). */
  let offset = 0;
  let server: TestServer;
  let receiver: WebhookReceiver;
  let dev: Browser;
  let web: RegisteredApp;
  let spa: RegisteredApp;
  let service: RegisteredApp;
  let user: User;

  before(async () => {
    receiver = await WebhookReceiver.start();
    server = await startTestServer({
      now: () => Date.now() + offset,
      // Registration open, so a self-registered client's review form is among the forms checked.
      env: { WEBHOOK_ALLOW_PRIVATE: '1', DYNAMIC_REGISTRATION: 'open' },
    });
    dev = new Browser(server.url);
    await signUp(dev, uniqueEmail('dev'), PASSWORD);
    web = await registerApp(dev, {
      name: 'Web',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users', 'write:projects'],
    });
    spa = await registerApp(dev, { name: 'SPA', type: 'spa', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
    service = await registerApp(dev, { name: 'Service', type: 'service', redirect_uris: [], scopes: ['read:users'] });
    user = await worldOn(server).user();
  });
  after(async () => {
    await server.dispose();
    await receiver.close();
  });

  /** The first answer to an authorization request (no redirect followed). */
  const authorizeRequest = (
    app: RegisteredApp,
    o: {
      redirectUri?: string;
      scope?: string;
      state?: string;
      codeChallenge?: string;
      extra?: Record<string, string>;
    } = {},
  ) =>
    new Browser(server.url).get(
      authorizeUrl(server.url, {
        clientId: app.client_id,
        redirectUri: o.redirectUri ?? REDIRECT_URI,
        scope: o.scope ?? 'read:users',
        state: o.state ?? 'st',
        ...(o.codeChallenge ? { codeChallenge: o.codeChallenge } : {}),
        ...(o.extra ? { extra: o.extra } : {}),
      }),
    );

  /** An error page: 400 HTML, and no Location header (the browser goes nowhere). */
  async function assertNoRedirect(res: Response, what: string): Promise<void> {
    assert.equal(res.headers.get('location'), null, `${what} redirected to ${res.headers.get('location')}`);
    assert.equal(res.status, 400, what);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
    await res.arrayBuffer();
  }

  /** A redirect's parameters, from the query or the fragment. */
  const paramsOf = (location: string) => {
    const url = new URL(location);
    return new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
  };

  // §2.1, §4.1: redirect URIs are compared with exact string matching. (Also oauth-errors.test.ts.)
  it('§4.1 matches redirect URIs exactly: no prefix, suffix, query, scheme, port, host or path variants', async () => {
    const variants = [
      'https://myapp.com/callback/',
      'https://myapp.com/callbackx',
      'https://myapp.com/callback/extra',
      'https://myapp.com/call',
      'https://myapp.com/callback?x=1',
      'https://myapp.com/callback?',
      'https://myapp.com/callback#frag',
      'http://myapp.com/callback',
      'https://myapp.com:443/callback',
      'https://myapp.com:8443/callback',
      'https://MYAPP.com/callback',
      'https://evil.myapp.com/callback',
      'https://myapp.com.evil.example/callback',
      'https://myapp.com@evil.example/callback',
      'https://evil.example/callback',
      'https://myapp.com/callback/../evil',
      'https://myapp.com/CALLBACK',
      'https://myapp.com/callback%2F..%2Fevil',
      ' https://myapp.com/callback',
      'https://myapp.com//callback',
    ];
    for (const redirectUri of variants)
      await assertNoRedirect(await authorizeRequest(web, { redirectUri }), redirectUri);
    // The registered URI itself is accepted (the request goes on to the login page).
    const ok = await authorizeRequest(web);
    assert.equal(ok.status, 303);
    assert.match(ok.headers.get('location')!, /^\/interaction\//);
  });

  // §4.11.2: the authorization server is not an open redirector.
  it('§4.11 does not redirect to an unverified URI: unknown client, wrong client type, missing client', async () => {
    const evil = 'https://evil.example/cb';
    const requests = [
      authorizeUrl(server.url, { clientId: 'app_unknown', redirectUri: evil, scope: 'read:users', state: 's' }),
      authorizeUrl(server.url, { clientId: service.client_id, redirectUri: evil, scope: 'read:users', state: 's' }),
      `${server.url}/oauth/authorize?redirect_uri=${encodeURIComponent(evil)}&response_type=code&scope=read:users`,
      authorizeUrl(server.url, {
        clientId: web.client_id,
        redirectUri: evil,
        scope: 'read:users',
        state: 's',
        extra: { response_type: 'token' },
      }),
    ];
    for (const url of requests) await assertNoRedirect(await new Browser(server.url).get(url), url);
  });

  // §4.11.1 (open redirector on our own pages): the login form's return_to stays on this origin.
  it('§4.11 keeps the login return_to on this origin', async () => {
    const attempts = [
      'https://evil.example/',
      '//evil.example/',
      '/\\evil.example',
      '\\\\evil.example',
      '/\t/evil.example',
      ' //evil.example',
      'http:evil.example',
      'javascript:alert(1)',
      '/%2F/evil.example',
      '/%5Cevil.example',
      '///evil.example',
      'evil.example',
    ];
    const origin = new URL(server.url).origin;
    for (const returnTo of attempts) {
      const browser = new Browser(server.url);
      const posted = await signIn(browser, user.email, user.password, returnTo);
      assert.equal(posted.status, 303, returnTo);
      assert.equal(
        new URL(posted.headers.get('location')!, server.url).origin,
        origin,
        `POST /login return_to=${returnTo}`,
      );
      // Already signed in: GET /login?return_to= redirects at once, to this origin only.
      const got = await browser.get(`/login?return_to=${encodeURIComponent(returnTo)}`);
      assert.equal(
        new URL(got.headers.get('location')!, server.url).origin,
        origin,
        `GET /login return_to=${returnTo}`,
      );
    }
  });

  // §4.2.4, §4.5: codes are single-use; a replay revokes what the first exchange issued.
  it('§4.5 makes authorization codes single-use: a replay is invalid_grant and revokes the first tokens', async () => {
    const first = await codeFlow(server, web, user);
    const replay = await token(server, web, {
      grant_type: 'authorization_code',
      code: first.code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body['error'], 'invalid_grant');
    assert.deepEqual(await introspect(server, web, first.access_token), { active: false });
    assert.deepEqual(await introspect(server, web, first.refresh_token!), { active: false });
    // A code is bound to its client and redirect URI: another client, or another URI, cannot redeem it.
    const other = await registerApp(dev, {
      name: 'Other',
      redirect_uris: [REDIRECT_URI, 'https://myapp.com/other'],
      scopes: ['read:users'],
    });
    const stolen = (await authorizeAs(server, web, user)).redirect.searchParams.get('code');
    const byOther = await token(server, other, {
      grant_type: 'authorization_code',
      code: stolen,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(byOther.body['error'], 'invalid_grant');
    const otherUri = (await authorizeAs(server, other, user)).redirect.searchParams.get('code');
    const wrongUri = await token(server, other, {
      grant_type: 'authorization_code',
      code: otherUri,
      redirect_uri: 'https://myapp.com/other',
    });
    assert.equal(wrongUri.body['error'], 'invalid_grant');
  });

  // §2.1.1: PKCE is required of public clients (pkce-and-clients.test.ts has the full matrix).
  it('§2.1.1 requires PKCE (S256) from public clients', async () => {
    const res = await authorizeRequest(spa, { state: 'pk' });
    assert.equal(res.status, 303);
    const params = paramsOf(res.headers.get('location')!);
    assert.equal(params.get('error'), 'invalid_request');
    assert.equal(params.get('code'), null);
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(meta['code_challenge_methods_supported'], ['S256']);
  });

  // §4.8: PKCE downgrade. A code issued with a challenge needs the verifier; a verifier without a
  // challenge is refused; `plain` is refused.
  it(
    '§4.8 refuses PKCE downgrades: verifier mandatory once challenged, ' + 'none without a challenge, no plain',
    async () => {
      const pkce = pkcePair();
      const challenged = await authorizeAs(server, web, user, { codeChallenge: pkce.challenge });
      const missing = await token(server, web, {
        grant_type: 'authorization_code',
        code: challenged.redirect.searchParams.get('code'),
        redirect_uri: REDIRECT_URI,
      });
      assert.equal(missing.status, 400);
      assert.equal(missing.body['error'], 'invalid_grant');

      const unchallenged = await authorizeAs(server, web, user);
      const injected = await token(server, web, {
        grant_type: 'authorization_code',
        code: unchallenged.redirect.searchParams.get('code'),
        redirect_uri: REDIRECT_URI,
        code_verifier: pkce.verifier,
      });
      assert.equal(injected.status, 400);
      assert.equal(injected.body['error'], 'invalid_grant');

      for (const app of [web, spa]) {
        const plain = await authorizeRequest(app, {
          extra: { code_challenge: pkce.verifier, code_challenge_method: 'plain' },
        });
        assert.equal(paramsOf(plain.headers.get('location')!).get('error'), 'invalid_request');
      }
    },
  );

  // §4.14.2: refresh tokens rotate; a rotated one presented after the grace window revokes the
  // grant (refresh-tokens.test.ts covers the grace window itself).
  it('§4.14 rotates refresh tokens and detects reuse (the whole grant is revoked)', async () => {
    const first = await codeFlow(server, web, user);
    const second = await token(server, web, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(second.status, 200);
    assert.notEqual(second.body['refresh_token'], first.refresh_token);

    offset += (server.config.REFRESH_TOKEN_REUSE_GRACE + 1) * 1000;
    const reuse = await token(server, web, { grant_type: 'refresh_token', refresh_token: first.refresh_token });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body['error'], 'invalid_grant');
    const next = await token(server, web, { grant_type: 'refresh_token', refresh_token: second.body['refresh_token'] });
    assert.equal(next.body['error'], 'invalid_grant', 'the newest refresh token died with the grant');
    assert.deepEqual(await introspect(server, web, second.body['access_token'] as string), { active: false });
  });

  // §4.7.1: `state` comes back byte for byte, on success and on error.
  it('§4.7 returns state unchanged, on success and on error', async () => {
    const state = `s ${crypto.randomBytes(6).toString('base64')}&é"'<>/?=#+%20`;
    const ok = await authorizeAs(server, web, user, { state });
    assert.equal(ok.redirect.searchParams.get('state'), state);
    const denied = await authorizeAs(server, web, await worldOn(server).user(), { state, decision: 'deny' });
    assert.equal(denied.redirect.searchParams.get('error'), 'access_denied');
    assert.equal(denied.redirect.searchParams.get('state'), state);
    const badScope = await authorizeRequest(web, { state, scope: 'delete:users' });
    assert.equal(paramsOf(badScope.headers.get('location')!).get('state'), state);
  });

  // §4.4.2 (mix-up), RFC 9207: `iss` on every authorization response, and advertised.
  it('§4.4 sends the iss authorization-response parameter (RFC 9207) on success and error redirects', async () => {
    const issuer = server.config.ISSUER;
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(meta['issuer'], issuer);
    assert.equal(meta['authorization_response_iss_parameter_supported'], true);

    const ok = await authorizeAs(server, web, user);
    assert.ok(ok.redirect.searchParams.get('code'));
    assert.equal(ok.redirect.searchParams.get('iss'), issuer);

    const denied = await authorizeAs(server, web, await worldOn(server).user(), { decision: 'deny' });
    assert.equal(denied.redirect.searchParams.get('iss'), issuer);
    const errorRequests: { scope?: string; extra?: Record<string, string> }[] = [
      { scope: 'delete:users' },
      { extra: { response_type: 'token' } },
      { extra: { code_challenge: 'x'.repeat(43), code_challenge_method: 'plain' } },
    ];
    for (const o of errorRequests) {
      const res = await authorizeRequest(web, o);
      const params = paramsOf(res.headers.get('location')!);
      assert.ok(params.get('error'), JSON.stringify(o));
      assert.equal(params.get('iss'), issuer, JSON.stringify(o));
    }
    const spaError = await authorizeRequest(spa);
    assert.equal(paramsOf(spaError.headers.get('location')!).get('iss'), issuer);
  });

  // §2.1.2, §4.3: no implicit grant, no access token in any URL, none accepted from a URL.
  it('§2.1.2 keeps tokens out of URLs: no implicit grant, code-only redirects, no ?access_token=', async () => {
    for (const responseType of ['token', 'code token', 'id_token token', 'code id_token token']) {
      const res = await authorizeRequest(web, { extra: { response_type: responseType } });
      assert.equal(res.status, 303, responseType);
      const location = res.headers.get('location')!;
      assert.equal(paramsOf(location).get('error'), 'unsupported_response_type', responseType);
      assert.doesNotMatch(location, /access_token|id_token=/, responseType);
    }
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual(meta['response_types_supported'], ['code']);

    const { redirect } = await authorizeAs(server, web, user);
    assert.deepEqual([...redirect.searchParams.keys()].sort(), ['code', 'iss', 'state']);
    assert.equal(redirect.hash, '');

    const tokens = await codeFlow(server, web, user);
    const inQuery = await fetch(`${server.url}/v2/auth/test?access_token=${encodeURIComponent(tokens.access_token)}`);
    assert.equal(inQuery.status, 401);
    assert.match(inQuery.headers.get('www-authenticate') ?? '', /^Bearer/);
    await inQuery.arrayBuffer();
    const inHeader = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(inHeader.status, 200, 'the same token works in the Authorization header');
    await inHeader.arrayBuffer();
  });

  // §4.3.1 (browser history / caches): token responses are never cached.
  it('§4.3 answers token requests with Cache-Control: no-store', async () => {
    const res = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  // §4.2 (Referer leakage): pages of the flow send no Referer onwards.
  it('§4.2 sends Referrer-Policy: no-referrer from the login and consent pages', async () => {
    const browser = new Browser(server.url);
    const start = await browser.follow(
      await browser.get(
        authorizeUrl(server.url, {
          clientId: web.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      ),
    );
    assert.equal(start.res.headers.get('referrer-policy'), 'no-referrer');
    const html = await start.res.text();
    const consent = await browser.follow(
      await browser.postForm(formAction(html, '/login'), {
        _csrf: csrfFrom(html),
        email: user.email,
        password: user.password,
      }),
    );
    assert.equal(consent.res.headers.get('referrer-policy'), 'no-referrer');
    await consent.res.arrayBuffer();
  });

  // §4.16: the login and consent pages cannot be framed.
  it('§4.16 forbids framing of the login, sign-up and consent pages (X-Frame-Options, frame-ancestors)', async () => {
    const browser = new Browser(server.url);
    const pages: [string, Response][] = [
      ['/login', await browser.get('/login')],
      ['/signup', await browser.get('/signup')],
    ];
    const login = await browser.follow(
      await browser.get(
        authorizeUrl(server.url, {
          clientId: web.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      ),
    );
    const loginHtml = await login.res.clone().text();
    pages.push(['interaction login', login.res]);
    const someone = await worldOn(server).user();
    const consent = await browser.follow(
      await browser.postForm(formAction(loginHtml, '/login'), {
        _csrf: csrfFrom(loginHtml),
        email: someone.email,
        password: someone.password,
      }),
    );
    assert.match(await consent.res.clone().text(), /\/confirm/, 'the consent page');
    pages.push(['consent', consent.res]);
    for (const [name, res] of pages) {
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', name);
      assert.match(res.headers.get('content-security-policy') ?? '', /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, name);
      await res.arrayBuffer();
    }
  });

  // §4.7 (CSRF against the authorization server's own forms): every POST form carries the token,
  // and a post without it (or with a wrong one) is refused before it does anything.
  it('§4.7 puts a CSRF token in every POST form, and refuses posts without it', async () => {
    // A developer with one of everything, so every page with a form has something to show.
    const email = uniqueEmail('csrf');
    const b = new Browser(server.url);
    await signUp(b, email, PASSWORD);
    const app = await registerApp(b, { name: 'CSRF app', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] });
    const hook = (await (
      await request(b, 'POST', '/v2/webhooks', { body: { url: receiver.url(), events: ['*'] } })
    ).json()) as { id: string };
    const key = (await (
      await request(b, 'POST', '/v2/api-keys', { body: { name: 'k', scopes: ['read:users'] } })
    ).json()) as { id: string };
    const api = (await (
      await request(b, 'POST', '/v2/apis', { body: { name: 'CSRF API', identifier: 'https://csrf-api.example.com' } })
    ).json()) as { id: string };
    await server.built.webhookWorker.drain();
    // Two deliveries: one stays delivered (its page offers "Redeliver"); the other waits for its next
    // attempt in an hour (its page offers "Retry now"; the worker polling every second leaves it be).
    await request(b, 'POST', '/v2/api-keys', { body: { name: 'k2', scopes: ['read:users'] } });
    await server.built.webhookWorker.drain();
    const [delivered, queued] = await server.db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('endpoint_id', '=', hook.id)
      .orderBy('id')
      .limit(2)
      .execute();
    assert.ok(delivered && queued, 'two deliveries');
    await server.db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: server.now() + 3_600_000, delivered_at: null, locked_until: null })
      .where('id', '=', queued.id)
      .execute();
    await codeFlow(server, app, { email, password: PASSWORD }, { browser: b }); // an authorized app
    await signIn(new Browser(server.url), email, PASSWORD); // another device's session, to sign out
    // A passkey, so Settings → Security shows its remove form.
    const securityCsrf = csrfFrom(await (await b.get('/settings/security')).text());
    const passkeyOptions = await b.request('/settings/security/passkeys/options', {
      method: 'POST',
      headers: { 'X-CSRF-Token': securityCsrf },
    });
    const passkey = new SoftAuthenticator(server.url).create(await passkeyOptions.json());
    const added = await b.postForm('/settings/security/passkeys', {
      _csrf: securityCsrf,
      name: 'Census key',
      response: JSON.stringify(passkey),
    });
    assert.equal(added.status, 303, 'a passkey added');
    const pages = new Map<string, string>();
    const get = async (path: string, browser = b) => {
      const res = await browser.get(path);
      assert.equal(res.status, path.endsWith('/nonexistent') ? 404 : 200, path);
      pages.set(path, await res.text());
    };
    for (const path of [
      '/dashboard',
      '/settings/api-keys',
      '/settings/api-keys/new',
      `/settings/api-keys/${key.id}`,
      `/settings/api-keys/${key.id}/revoke`,
      `/settings/api-keys/${key.id}/rotate`,
      '/settings/applications',
      '/settings/applications/new',
      `/settings/applications/${app.client_id}`,
      `/settings/applications/${app.client_id}/delete`,
      `/settings/applications/${app.client_id}/secret`,
      '/settings/apis',
      '/settings/apis/new',
      `/settings/apis/${api.id}`,
      `/settings/apis/${api.id}/delete`,
      '/settings/authorized-apps',
      '/settings/webhooks',
      '/settings/webhooks/new',
      `/settings/webhooks/${hook.id}`,
      `/settings/webhooks/${hook.id}/delete`,
      `/settings/webhooks/${hook.id}/deliveries/${delivered.id}`,
      `/settings/webhooks/${hook.id}/deliveries/${queued.id}`,
      '/settings/security',
      '/settings/sessions', // this browser's session and the other device's: one to sign out
      '/settings/account', // name and email change
      '/settings/account/delete',
      '/settings/api-keys/nonexistent',
    ])
      await get(path);
    // Two-factor enrolment (its confirm form), then the overview with the disable form.
    const begin = await b.postForm('/settings/security/2fa/begin', {
      _csrf: csrfFrom(pages.get('/settings/security')!),
    });
    const enrollHtml = await begin.text();
    pages.set('POST /settings/security/2fa/begin', enrollHtml);
    const secret = /id="totp-secret">([A-Z2-7]+)</.exec(enrollHtml)![1]!;
    const totp = () =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate({ timestamp: Date.now() + offset });
    const confirmed = await b.postForm('/settings/security/2fa/confirm', { _csrf: csrfFrom(enrollHtml), code: totp() });
    pages.set('/settings/security/2fa/recovery-codes', await (await b.follow(confirmed)).res.text());
    pages.set('/settings/security (2FA on)', await (await b.get('/settings/security')).text());
    // Signed out: login and sign-up, the second-factor step, and the OAuth login, 2FA and consent pages.
    const anon = new Browser(server.url);
    await get('/login', anon);
    await get('/signup', anon);
    // The emailed links' pages (a verification link opened by the signed-in owner, a reset link by anyone).
    const links = server.built.services.emailLinks;
    const owner = (await server.built.services.accounts.findByEmail(email))!;
    await get(`/verify-email?token=${await links.issue(owner.id, 'verify_email', email)}`);
    await get(`/settings/account/email/confirm?token=${await links.issue(owner.id, 'change_email', `new.${email}`)}`);
    await get('/password/forgot', anon);
    await get(`/password/reset?token=${await links.issue(owner.id, 'reset_password', email)}`, anon);
    // First-run setup (no admin on this server): the page the link printed at start opens.
    const setupLink = new URL((await server.built.services.setup.issueLink())!);
    await get(`/setup${setupLink.search}`, anon);
    await signIn(anon, email, PASSWORD);
    await get('/login/2fa', anon);
    const flow = new Browser(server.url);
    const start = await flow.follow(
      await flow.get(
        authorizeUrl(server.url, {
          clientId: web.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      ),
    );
    const oauthLogin = await start.res.text();
    pages.set('interaction login', oauthLogin);
    const second = await flow.postForm(formAction(oauthLogin, '/login'), {
      _csrf: csrfFrom(oauthLogin),
      email,
      password: PASSWORD,
    });
    pages.set('interaction 2fa', await second.text());
    const consentBrowser = new Browser(server.url);
    const c = await consentBrowser.follow(
      await consentBrowser.get(
        authorizeUrl(server.url, {
          clientId: web.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      ),
    );
    const cLogin = await c.res.text();
    const fresh = await worldOn(server).user();
    const consentPage = await consentBrowser.follow(
      await consentBrowser.postForm(formAction(cLogin, '/login'), {
        _csrf: csrfFrom(cLogin),
        email: fresh.email,
        password: fresh.password,
      }),
    );
    pages.set('consent', await consentPage.res.text());
    // prompt=select_account, for the developer signed in above (who authorized `app`).
    const select = await b.follow(
      await b.get(
        authorizeUrl(server.url, {
          clientId: app.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
          extra: { prompt: 'select_account' },
        }),
      ),
    );
    const selectHtml = await select.res.text();
    assert.match(selectHtml, /\/select-account"/, 'the select_account page');
    pages.set('select account', selectHtml);
    // A client that registered itself, as an admin sees it (after the setup page: it needs no admin).
    const admin = await worldOn(server).user({ admin: true });
    const registered = (await (
      await request(server, 'POST', '/oauth/register', {
        body: { redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', client_name: 'Self-registered' },
      })
    ).json()) as { client_id: string };
    const review = `/settings/applications/${registered.client_id} (self-registered)`;
    pages.set(review, await (await admin.browser.get(`/settings/applications/${registered.client_id}`)).text());
    // The console's page of a disabled account with a second factor shows every action it has.
    const held = await worldOn(server).user({ twoFactor: true });
    await server.db.updateTable('users').set({ disabled_at: Date.now() }).where('id', '=', held.id).execute();
    const consolePage = `/admin/users/${held.id} (disabled, 2FA on)`;
    pages.set(consolePage, await (await admin.browser.get(`/admin/users/${held.id}`)).text());

    const seen: { page: string; action: string; browser: Browser }[] = [];
    const browserOf = (page: string) =>
      page === review || page === consolePage
        ? admin.browser
        : page.startsWith('interaction')
          ? flow
          : page === 'consent'
            ? consentBrowser
            : ['/login', '/signup', '/login/2fa'].includes(page) || page.startsWith('/password/')
              ? anon
              : b;
    for (const [page, html] of pages) {
      for (const form of postForms(html)) {
        assert.ok(form.csrf, `a POST form on ${page} has no _csrf hidden field: ${form.html.slice(0, 200)}`);
        seen.push({ page, action: form.action, browser: browserOf(page) });
      }
    }
    assert.ok(seen.length >= 25, `forms found: ${seen.length}`);

    // Every form in every template was seen on some page (so none was left out of this check).
    for (const [file, text] of viewTemplates()) {
      for (const m of text.matchAll(/<form\b[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)) {
        // The logout confirmation carries oidc-provider's own secret instead, which it checks
        // (test/oidc/logout.test.ts: a forged confirmation signs nobody out).
        if (file.endsWith('logout.eta') && /<input type="hidden" name="xsrf" value="<%= it\.xsrf %>">/.test(m[2]!))
          continue;
        assert.match(
          m[2]!,
          /<input type="hidden" name="_csrf" value="<%= it\.csrfToken %>">/,
          `${file}: form ${m[1]} without _csrf`,
        );
        const pattern = new RegExp(
          `^${m[1]!
            .split(/<%=[^%]*%>/)
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^"]+')}$`,
        );
        assert.ok(
          seen.some((s) => pattern.test(s.action)),
          `${file}: no page showed its form posting to ${m[1]}`,
        );
      }
    }

    // A post without the token, or with another browser's, is refused (403) for every action.
    const foreign = csrfFrom(await (await new Browser(server.url).get('/login')).text());
    const done = new Set<string>();
    for (const { action, browser } of seen) {
      if (done.has(action)) continue;
      done.add(action);
      for (const fields of [{}, { _csrf: '' }, { _csrf: foreign }] as Record<string, string>[]) {
        const res = await browser.postForm(action, { ...fields, email, password: PASSWORD, code: '000000', name: 'x' });
        assert.equal(res.status, 403, `POST ${action} with ${JSON.stringify(fields)}: ${res.status}`);
        await res.arrayBuffer();
      }
    }
    // The refused posts changed nothing: still signed in, the key still active, the app still there.
    assert.equal((await b.get('/dashboard')).status, 200);
    const keyNow = (await (await request(b, 'GET', `/v2/api-keys/${key.id}`)).json()) as { status: string };
    assert.equal(keyNow.status, 'active');
  });

  // §2.5: confidential clients authenticate at the token endpoint.
  it('§2.5 requires client authentication from confidential clients at the token endpoint', async () => {
    const { redirect } = await authorizeAs(server, web, user);
    const code = redirect.searchParams.get('code');
    const noSecret = [
      request(server, 'POST', '/oauth/token', {
        body: {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT_URI,
          client_id: web.client_id,
        },
      }),
      request(server, 'POST', '/oauth/token', {
        body: { grant_type: 'client_credentials', client_id: service.client_id },
      }),
      request(server, 'POST', '/oauth/token', {
        body: {
          grant_type: 'client_credentials',
          client_id: service.client_id,
          client_secret: '',
        },
      }),
    ];
    for (const res of await Promise.all(noSecret)) {
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal(res.body['error'], 'invalid_client');
      assert.equal(res.body['access_token'], undefined);
    }
    // HTTP Basic with an empty password is a malformed request (RFC 6749 §5.2 invalid_request).
    const emptyBasic = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials' },
      headers: { Authorization: `Basic ${Buffer.from(`${service.client_id}:`).toString('base64')}` },
    });
    assert.equal(emptyBasic.status, 400);
    assert.equal(emptyBasic.body['error'], 'invalid_request');
    assert.equal(emptyBasic.body['access_token'], undefined);
    // The code was not spent by the failed attempt.
    assert.equal(
      (await token(server, web, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })).status,
      200,
    );
  });

  // §2.4: the resource owner password credentials grant must not be used.
  it('§2.4 refuses the password grant', async () => {
    const res = await token(server, web, {
      grant_type: 'password',
      username: user.email,
      password: user.password,
      scope: 'read:users',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body['error'], 'unsupported_grant_type');
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as {
      grant_types_supported: string[];
    };
    assert.ok(!meta.grant_types_supported.includes('password'));
    assert.ok(!meta.grant_types_supported.includes('implicit'));
  });

  // §2.3, §4.10: access tokens are audience-restricted to the API, with the least privilege asked.
  it('§2.3 restricts access tokens to the API audience and to registered scopes', async () => {
    const tokens = await codeFlow(server, web, user, { scope: 'read:users' });
    const info = await introspect(server, web, tokens.access_token);
    assert.equal(info['aud'], server.config.API_RESOURCE);
    assert.equal(info['scope'], 'read:users');
    const other = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users', resource: 'https://evil.example/api' },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(other.status, 400);
    assert.equal(other.body['error'], 'invalid_target');
    const wider = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users write:users' },
      headers: { Authorization: basicAuth(service) },
    });
    assert.equal(wider.body['error'], 'invalid_scope');
  });

  // §4.12: after a form post the browser is sent on with 303, never 307 (which would re-post the
  // user's credentials to the client).
  it('§4.12 redirects after the login and consent posts with 303, never 307', async () => {
    const browser = new Browser(server.url);
    const start = await browser.follow(
      await browser.get(
        authorizeUrl(server.url, {
          clientId: web.client_id,
          redirectUri: REDIRECT_URI,
          scope: 'read:users',
          state: 's',
        }),
      ),
    );
    const loginHtml = await start.res.text();
    const someone = await worldOn(server).user();
    const login = await browser.postForm(formAction(loginHtml, '/login'), {
      _csrf: csrfFrom(loginHtml),
      email: someone.email,
      password: someone.password,
    });
    assert.equal(login.status, 303);
    const consent = await browser.follow(login);
    const consentHtml = await consent.res.text();
    const confirm = await browser.postForm(formAction(consentHtml, '/confirm'), { _csrf: csrfFrom(consentHtml) });
    assert.equal(confirm.status, 303);
    const final = await browser.follow(confirm);
    assert.ok(final.url.startsWith(REDIRECT_URI));
    const dashboardLogin = await signIn(new Browser(server.url), someone.email, someone.password);
    assert.equal(dashboardLogin.status, 303);
  });

  // §2.6 (TLS): with an https issuer every cookie is Secure and HSTS is sent.
  it('§2.6 marks cookies Secure and sends HSTS when the issuer is https', async () => {
    // Behind a TLS-terminating proxy we trust (§4.13), which says so in X-Forwarded-Proto.
    const tls = await startTestServer({ env: { ISSUER: 'https://auth.example.com', TRUST_PROXY: '1' } });
    try {
      for (const path of ['/login', '/signup']) {
        const res = await fetch(`${tls.url}${path}`, { headers: { 'X-Forwarded-Proto': 'https' } });
        assert.equal(res.status, 200, path);
        await res.arrayBuffer();
        assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d{7,}/, path);
        const cookies = res.headers.getSetCookie();
        assert.ok(cookies.length > 0, path);
        for (const c of cookies) assert.match(c, /;\s*secure/i, `${path}: ${c}`);
      }
    } finally {
      await tls.dispose();
    }
  });

  // §4.15: a client cannot choose its client_id (to look like a user's `sub`); client-credentials
  // tokens carry no `sub`.
  it('§4.15 lets no client choose its client_id, and gives client-credentials tokens no sub', async () => {
    const res = await dev.postJson('/oauth/applications', {
      name: 'Impostor',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users'],
      client_id: 'usr_someone',
    });
    assert.ok(res.status === 400 || res.status === 422, `status ${res.status}`);
    await res.arrayBuffer();
    const cc = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basicAuth(service) },
    });
    const info = await introspect(server, service, cc.body['access_token'] as string);
    assert.equal(info['active'], true);
    assert.equal(info['sub'], undefined);
    const seen = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${cc.body['access_token']}` },
    });
    const body = (await seen.json()) as { subject: string };
    assert.ok(!body.subject.startsWith('usr_'), `subject ${body.subject}`);
  });

  // §4.13: behind no proxy we trust, forwarded headers are ignored (the caller's real address counts).
  it('§4.13 ignores X-Forwarded-For unless TRUST_PROXY is set', async () => {
    assert.equal(server.config.TRUST_PROXY, 0);
    const created = await request(dev, 'POST', '/v2/api-keys', {
      body: {
        name: 'allowlisted',
        scopes: ['read:users'],
        allowed_ips: ['203.0.113.7'],
      },
    });
    const { key } = (await created.json()) as { key: string };
    const res = await fetch(`${server.url}/v2/auth/test`, {
      headers: { Authorization: `Bearer ${key}`, 'X-Forwarded-For': '203.0.113.7', Forwarded: 'for=203.0.113.7' },
    });
    assert.equal(res.status, 403);
    await res.arrayBuffer();
  });

  // §2.5 / general: secrets are compared in constant time. Code-level: the client-secret, API key
  // and CSRF checks go through safeEqual, which is crypto.timingSafeEqual. Behavioural: a secret
  // that differs only in its last character is refused.
  it('compares secrets in constant time (safeEqual / timingSafeEqual), and refuses near-misses', async () => {
    const secrets = source('src/shared/secrets.ts');
    assert.match(secrets, /export function safeEqual[\s\S]*?crypto\.timingSafeEqual\(ab, bb\)/);
    const applications = source('src/features/applications/applications.service.ts');
    assert.match(applications, /function clientSecretMatches[^{]*\{[^}]*safeEqual\(sha256\(presented\), storedHash\)/);
    // The current secret and, during a rotation overlap, the previous one: both through clientSecretMatches.
    assert.match(applications, /function clientSecretAccepted[\s\S]*?clientSecretMatches\(presented, current\)/);
    assert.match(applications, /function clientSecretAccepted[\s\S]*?clientSecretMatches\(presented, previousHash\)/);
    assert.match(applications, /authenticateClient[\s\S]*?clientSecretAccepted\(/);
    assert.match(source('src/oidc/provider.ts'), /compareClientSecret[\s\S]*?clientSecretAccepted\(/);
    assert.match(source('src/oidc/token-pipeline.ts'), /secretAccepted:[^\n]*clientSecretAccepted\(/);
    assert.match(source('src/features/api-keys/api-keys.service.ts'), /safeEqual\(sha256\(key\), entry\.secretHash\)/);
    assert.match(source('src/http/csrf.ts'), /safeEqual\(sent, token\)/);
    for (const file of [
      'src/features/applications/applications.service.ts',
      'src/features/api-keys/api-keys.service.ts',
      'src/oidc/provider.ts',
      'src/http/csrf.ts',
    ]) {
      assert.doesNotMatch(
        source(file),
        /(secret_hash|secretHash|storedHash)\s*[!=]==|[!=]==\s*(row\.|entry\.row\.)?(secret_hash|storedHash)/,
        `${file} compares a secret with ===`,
      );
    }

    const lastCharOff = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    const cc = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials' },
      headers: { Authorization: basicAuth({ ...service, client_secret: lastCharOff(service.client_secret!) }) },
    });
    assert.equal(cc.status, 401);
    assert.equal(cc.body['error'], 'invalid_client');
    const { key } = (await (
      await request(dev, 'POST', '/v2/api-keys', { body: { name: 'near-miss', scopes: ['read:users'] } })
    ).json()) as { key: string };
    // Same id, a different secret with a valid checksum: passes the shape check, fails the hash.
    const sameId = mintSecret(key.split('_').slice(0, 2).join('_'));
    for (const candidate of [lastCharOff(key), sameId, key.slice(0, -1)]) {
      const res = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${candidate}` } });
      assert.equal(res.status, 401, candidate);
      await res.arrayBuffer();
    }
    const good = await fetch(`${server.url}/v2/auth/test`, { headers: { Authorization: `Bearer ${key}` } });
    assert.equal(good.status, 200);
    await good.arrayBuffer();
  });
});
