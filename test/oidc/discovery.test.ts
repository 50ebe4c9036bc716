/**
 * Discovery tells the truth (the OpenID Foundation's Config OP plan, and RFC 8414): every member of
 * /.well-known/openid-configuration and /.well-known/oauth-authorization-server is listed in
 * COVERED with the test below that proves it, and every value it advertises (each endpoint, grant
 * type, client authentication method, response type and mode, algorithm, scope and claim) is
 * exercised against the real server. A member nobody tests fails the first test.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Browser, authorizeAt, authorizeUrl } from '../support/http.ts';
import { basicAuth, introspect, pkcePair as pkceCodePair } from '../support/oauth.ts';
import { approveDevice, poll, startDevice } from '../support/device.ts';
import { DpopKey, dpopHeaders } from '../support/dpop.ts';
import { BY_SYSTEM } from '../../src/features/audit/audit.ts';
import {
  authorizeOpenId,
  signInWithOpenId,
  tokenRequest,
  userinfo,
  verifyIdToken,
  type Person,
} from '../support/openid.ts';
import {
  PASSWORD,
  REDIRECT_URI,
  startWorld,
  uniqueEmail,
  type RegisteredApp,
  type TestWorld,
} from '../support/world.ts';

type Metadata = Record<string, unknown>;

/** Every member either document may carry, and the test (below) that proves what it says. */
const COVERED: Record<string, string> = {
  issuer: 'oidcc-discovery-issuer-not-matching-config',
  authorization_endpoint: 'endpoints',
  token_endpoint: 'endpoints',
  userinfo_endpoint: 'endpoints',
  jwks_uri: 'jwks',
  introspection_endpoint: 'endpoints',
  revocation_endpoint: 'endpoints',
  grant_types_supported: 'grant types',
  response_types_supported: 'response types',
  response_modes_supported: 'response modes',
  token_endpoint_auth_methods_supported: 'client authentication',
  code_challenge_methods_supported: 'PKCE',
  scopes_supported: 'scopes and claims',
  claims_supported: 'scopes and claims',
  claims_parameter_supported: 'claims parameter',
  claim_types_supported: 'scopes and claims',
  subject_types_supported: 'subject types',
  id_token_signing_alg_values_supported: 'ID token algorithms',
  authorization_response_iss_parameter_supported: 'response modes',
  request_uri_parameter_supported: 'request_uri',
  end_session_endpoint: 'logout',
  backchannel_logout_supported: 'logout',
  backchannel_logout_session_supported: 'logout',
  request_parameter_supported: 'request objects',
  ui_locales_supported: 'ui_locales',
  device_authorization_endpoint: 'device flow',

  registration_endpoint: 'registration',

  pushed_authorization_request_endpoint: 'PAR',
  require_pushed_authorization_requests: 'PAR',
  dpop_signing_alg_values_supported: 'DPoP',
};

const DOCUMENTS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

describe('Config OP: discovery advertises exactly what works', () => {
  let world: TestWorld;
  let meta: Metadata;
  let web: RegisteredApp;
  let spa: RegisteredApp;
  let service: RegisteredApp;
  let resourceServer: RegisteredApp;
  let person: Person & { id: string };

  before(async () => {
    // Features that are off by default are turned on here, so the document carries every member.
    // A device polls every second here (the device flow test below waits it out).
    world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'open', DEVICE_POLL_INTERVAL: '1' } });
    meta = (await (await fetch(`${world.url}${DOCUMENTS[0]}`)).json()) as Metadata;
    const dev = await world.user({ tag: 'dev' });
    web = await world.app(dev, { scopes: ['read:users'] });
    spa = await world.app(dev, { type: 'spa', scopes: ['read:users'] });
    service = await world.app(dev, { type: 'service', scopes: ['read:users'] });
    resourceServer = await world.app(dev, { type: 'resource_server', scopes: [] });
    const email = uniqueEmail('disc');
    const account = await world.server.built.services.accounts.signUp(
      { email, password: PASSWORD, name: 'Disco' },
      BY_SYSTEM,
    );
    person = { id: account.id, email, password: PASSWORD };
  });
  after(() => world.close());

  const list = (key: string) => meta[key] as string[];

  it('every member of both documents is covered by a test here, and both documents agree', async () => {
    for (const path of DOCUMENTS) {
      const res = await fetch(`${world.url}${path}`);
      assert.equal(res.status, 200, path);
      const doc = (await res.json()) as Metadata;
      const uncovered = Object.keys(doc).filter((k) => !Object.hasOwn(COVERED, k));
      assert.deepEqual(uncovered, [], `${path} advertises members no test proves`);
      assert.deepEqual(doc, meta, `${path} says the same as ${DOCUMENTS[0]}`);
    }
    const missing = Object.keys(COVERED).filter((k) => !Object.hasOwn(meta, k));
    assert.deepEqual(missing, [], 'COVERED names members the document no longer has: update it');
  });

  it('oidcc-discovery-issuer-not-matching-config: issuer is ISSUER, the documents are under it', () => {
    assert.equal(meta['issuer'], world.server.config.ISSUER);
    assert.equal(new URL(DOCUMENTS[0]!, String(meta['issuer'])).origin, world.url);
  });

  it('endpoints: authorization, token, userinfo, introspection and revocation each answer there', async () => {
    const at = (key: string) => String(meta[key]);
    for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'introspection_endpoint']) {
      assert.ok(at(key).startsWith(`${world.server.config.ISSUER}/oauth/`), key);
    }
    assert.equal(at('authorization_endpoint'), `${world.url}/oauth/authorize`);
    assert.equal(at('token_endpoint'), `${world.url}/oauth/token`);
    assert.equal(at('userinfo_endpoint'), `${world.url}/oauth/userinfo`);
    assert.equal(at('introspection_endpoint'), `${world.url}/oauth/introspect`);
    assert.equal(at('revocation_endpoint'), `${world.url}/oauth/revoke`);
    // authorization + token: the code flow; userinfo, introspection and revocation with its token.
    const tokens = await signInWithOpenId(world.server, web, person, { scope: 'openid read:users' });
    assert.equal((await userinfo(world.server, tokens.access_token)).status, 200);
    assert.equal((await introspect(world.server, resourceServer, tokens.access_token))['active'], true);
    const revoked = await fetch(at('revocation_endpoint'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: tokens.access_token,
        client_id: web.client_id,
        client_secret: web.client_secret!,
      }),
    });
    assert.equal(revoked.status, 200);
    assert.equal((await introspect(world.server, resourceServer, tokens.access_token))['active'], false);
  });

  it('jwks: public signing keys only, each with kid, alg and use', async () => {
    const res = await fetch(String(meta['jwks_uri']));
    assert.equal(res.status, 200);
    const { keys } = (await res.json()) as { keys: Array<Record<string, unknown>> };
    assert.ok(keys.length >= 2);
    for (const key of keys) {
      assert.ok(key['kid'] && key['alg'] && key['use'] === 'sig', JSON.stringify(key));
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key[secret], undefined, secret);
    }
    assert.deepEqual(new Set(keys.map((k) => k['alg'])), new Set(list('id_token_signing_alg_values_supported')));
  });

  it('grant types: each works for the application allowed it and is unauthorized_client for the others', async () => {
    // Token exchange is proved in test/oidc/token-exchange.test.ts (delegation, never widening, refusals).
    assert.deepEqual(list('grant_types_supported').sort(), [
      'authorization_code',
      'client_credentials',
      'refresh_token',
      // The device flow's grant: its own test below, and src/oidc/device-flow.test.ts.
      'urn:ietf:params:oauth:grant-type:device_code',

      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    const tokens = await signInWithOpenId(world.server, web, person, { scope: 'openid read:users' });
    assert.ok(tokens.refresh_token, 'authorization_code');
    const refreshed = await tokenRequest(world.server, web, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    assert.equal(refreshed.status, 200, 'refresh_token');
    const cc = await tokenRequest(world.server, service, { grant_type: 'client_credentials', scope: 'read:users' });
    assert.equal(cc.status, 200, 'client_credentials');

    const refused: Array<[RegisteredApp, Record<string, string>]> = [
      [web, { grant_type: 'client_credentials', scope: 'read:users' }],
      [resourceServer, { grant_type: 'client_credentials' }],
      [service, { grant_type: 'refresh_token', refresh_token: 'x' }],
      [service, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI }],
      [web, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' }],
    ];
    for (const [app, params] of refused) {
      const res = await tokenRequest(world.server, app, params);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body['error'], 'unauthorized_client', `${params['grant_type']}: ${JSON.stringify(body)}`);
    }
    // The wrong secret is still invalid_client: which grants an application may use is its own business.
    const wrong = await tokenRequest(world.server, { ...web, client_secret: 'lkcs_wrong' }, refused[0]![1]);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_client');
    const unknown = await tokenRequest(world.server, web, { grant_type: 'password', username: 'a', password: 'b' });
    assert.equal(((await unknown.json()) as { error: string }).error, 'unsupported_grant_type');
  });

  it('device flow: device_authorization_endpoint gives a native application a code it polls with', async () => {
    assert.equal(meta['device_authorization_endpoint'], `${world.url}/oauth/device/auth`);
    const native = await world.app(await world.user({ tag: 'dev' }), {
      type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      scopes: ['read:users'],
    });
    const device = await startDevice(world.server, native, 'read:users');
    assert.equal((await poll(world.server, native, device.device_code)).body['error'], 'authorization_pending');
    const approval = await approveDevice((await world.user()).browser, device.user_code);
    assert.match(approval.html, /return to your device/);
    // The rest (slow_down, expiry, denial, reuse) is src/oidc/device-flow.test.ts; this one waits out
    // the interval it was given before polling again, as a device does.
    await new Promise((resolve) => setTimeout(resolve, device.interval * 1000));
    const tokens = await poll(world.server, native, device.device_code);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  });

  it('client authentication: client_secret_basic, client_secret_post, none (a public client, PKCE)', async () => {
    assert.deepEqual(list('token_endpoint_auth_methods_supported').sort(), [
      'client_secret_basic',
      'client_secret_post',
      'none',
    ]);
    for (const auth of ['client_secret_basic', 'client_secret_post'] as const) {
      const tokens = await signInWithOpenId(world.server, web, person, { auth });
      assert.ok(tokens.id_token, auth);
    }
    const pkce = pkceCodePair();
    const { redirect } = await authorizeOpenId(world.server, spa, person, {
      extra: { code_challenge: pkce.challenge, code_challenge_method: 'S256' },
    });
    const params = {
      grant_type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
    };
    const res = await tokenRequest(world.server, spa, { ...params, code_verifier: pkce.verifier }, 'none');
    assert.equal(res.status, 200, 'none');
  });

  it('PKCE: S256 is checked, plain is refused', async () => {
    assert.deepEqual(list('code_challenge_methods_supported'), ['S256']);
    const pkce = pkceCodePair();
    const extra = { code_challenge: pkce.challenge, code_challenge_method: 'S256' };
    const { redirect } = await authorizeOpenId(world.server, spa, person, { extra });
    const code = redirect.searchParams.get('code')!;
    const wrong = await tokenRequest(
      world.server,
      spa,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkceCodePair().verifier },
      'none',
    );
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_grant');
    const plain = await fetch(
      authorizeUrl(world.url, {
        clientId: spa.client_id,
        redirectUri: REDIRECT_URI,
        scope: 'openid',
        state: 's',
        extra: { code_challenge: pkce.verifier, code_challenge_method: 'plain' },
      }),
      { redirect: 'manual' },
    );
    assert.equal(new URL(plain.headers.get('location')!).searchParams.get('error'), 'invalid_request');
  });

  it('response types: code only; every other one is unsupported_response_type', async () => {
    assert.deepEqual(list('response_types_supported'), ['code']);
    for (const responseType of ['token', 'id_token', 'code id_token', 'code token', 'none']) {
      const url = new URL(
        authorizeUrl(world.url, { clientId: web.client_id, redirectUri: REDIRECT_URI, scope: 'openid' }),
      );
      url.searchParams.set('response_type', responseType);
      url.searchParams.set('nonce', 'n');
      const res = await fetch(url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      const params = new URLSearchParams(location.hash.slice(1) || location.search);
      assert.equal(params.get('error'), 'unsupported_response_type', responseType);
      assert.equal(params.get('access_token'), null);
    }
  });

  it('response modes: query, fragment and form_post each deliver the code, with iss (RFC 9207)', async () => {
    assert.deepEqual(list('response_modes_supported').sort(), ['form_post', 'fragment', 'query']);
    assert.equal(meta['authorization_response_iss_parameter_supported'], true);
    const browser = new Browser(world.url);
    const query = await authorizeOpenId(world.server, web, person, { browser });
    assert.ok(query.redirect.searchParams.get('code'));
    assert.equal(query.redirect.searchParams.get('iss'), world.server.config.ISSUER);

    const fragment = await authorizeOpenId(world.server, web, person, {
      browser,
      extra: { response_mode: 'fragment' },
    });
    const inFragment = new URLSearchParams(fragment.redirect.hash.slice(1));
    assert.equal(fragment.redirect.search, '');
    assert.ok(inFragment.get('code'));
    assert.equal(inFragment.get('iss'), world.server.config.ISSUER);

    // form_post: the browser, already signed in and consented, gets a page that posts the code.
    const url = authorizeUrl(world.url, {
      clientId: web.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'openid',
      state: 'fp',
      extra: { response_mode: 'form_post' },
    });
    const { res } = await browser.follow(await browser.get(url));
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, new RegExp(`<form method="post" action="${REDIRECT_URI}"`));
    const field = (name: string) => new RegExp(`name="${name}" value="([^"]+)"`).exec(html)?.[1];
    assert.ok(field('code'));
    assert.equal(field('state'), 'fp');
    assert.equal(field('iss'), world.server.config.ISSUER);
    const tokens = await tokenRequest(world.server, web, {
      grant_type: 'authorization_code',
      code: field('code')!,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200);
  });

  it('scopes and claims: every advertised claim is in an openid profile email ID token (normal)', async () => {
    assert.deepEqual(list('scopes_supported').sort(), ['email', 'offline_access', 'openid', 'profile']);
    assert.deepEqual(list('claim_types_supported'), ['normal']);
    // sid (the sign-in session) only when asked for: no Latchkey application registers for logout yet.
    const tokens = await signInWithOpenId(world.server, web, person, {
      scope: 'openid profile email offline_access',
      claims: { id_token: { sid: null } },
    });
    assert.ok(tokens.refresh_token, 'offline_access is accepted (every code exchange of a web app gets one)');
    const { payload } = await verifyIdToken(world.server, web, tokens.id_token);
    for (const claim of list('claims_supported')) assert.notEqual(payload[claim], undefined, claim);
    const info = (await (await userinfo(world.server, tokens.access_token)).json()) as Record<string, unknown>;
    assert.equal(info['_claim_names'], undefined, 'no aggregated or distributed claims');
    for (const claim of Object.keys(info)) assert.ok(list('claims_supported').includes(claim), claim);
  });

  it('claims parameter: a claim asked for alone is released', async () => {
    assert.equal(meta['claims_parameter_supported'], true);
    const tokens = await signInWithOpenId(world.server, web, person, {
      scope: 'openid',
      claims: { id_token: { updated_at: { essential: true } } },
    });
    const { payload } = await verifyIdToken(world.server, web, tokens.id_token);
    assert.equal(typeof payload['updated_at'], 'number');
  });

  it('subject types: public (the account id) and pairwise (one sub per redirect host)', async () => {
    assert.deepEqual(list('subject_types_supported'), ['public', 'pairwise']);
    const other = await world.app(undefined, { scopes: ['read:users'] });
    const developer = await world.user({ tag: 'dev' });
    const registered = await developer.browser.postJson('/oauth/applications', {
      name: 'Pairwise',
      redirect_uris: [REDIRECT_URI],
      scopes: ['read:users'],
      subject_type: 'pairwise',
    });
    const pairwise = (await registered.json()) as RegisteredApp;
    const subOf = async (app: RegisteredApp) =>
      (await verifyIdToken(world.server, app, (await signInWithOpenId(world.server, app, person)).id_token)).payload
        .sub;
    for (const app of [web, other]) assert.equal(await subOf(app), person.id);
    const sub = await subOf(pairwise);
    assert.ok(sub && sub !== person.id, 'a pairwise application is not told the account id');
  });

  it('ID token algorithms: RS256 here (ES256 on a server set to it)', async () => {
    assert.deepEqual(list('id_token_signing_alg_values_supported'), ['RS256', 'ES256']);
    const { header } = await verifyIdToken(
      world.server,
      web,
      (await signInWithOpenId(world.server, web, person)).id_token,
    );
    assert.equal(header.alg, 'RS256');

    const es = await startWorld({ env: { ID_TOKEN_SIGNING_ALG: 'ES256' } });
    try {
      const esMeta = (await (await fetch(`${es.url}${DOCUMENTS[0]}`)).json()) as Metadata;
      assert.deepEqual(esMeta['id_token_signing_alg_values_supported'], ['RS256', 'ES256']);
      const app = await es.app(undefined, { scopes: ['read:users'] });
      const u = await es.user();
      const signed = await verifyIdToken(es.server, app, (await signInWithOpenId(es.server, app, u)).id_token);
      assert.equal(signed.header.alg, 'ES256');
    } finally {
      await es.close();
    }
  });

  it('logout: end_session_endpoint signs out; back-channel logout tokens carry sid (logout.test.ts)', async () => {
    assert.equal(meta['end_session_endpoint'], `${world.url}/oauth/logout`);
    assert.equal(meta['backchannel_logout_supported'], true);
    assert.equal(meta['backchannel_logout_session_supported'], true);
    const browser = new Browser(world.url);
    await signInWithOpenId(world.server, web, person, { browser });
    const page = await browser.get(String(meta['end_session_endpoint']));
    const html = await page.text();
    assert.equal(page.status, 200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(xsrf, 'the confirmation page');
    const done = await browser.postForm(`${world.url}/oauth/logout/confirm`, { xsrf, logout: 'yes' });
    assert.equal(done.status, 303);
    assert.equal(new URL(done.headers.get('location')!).pathname, '/oauth/logout/success');
    // Signed out: the next authorization asks for a sign-in again.
    const again = await browser.get(
      authorizeUrl(world.url, { clientId: web.client_id, redirectUri: REDIRECT_URI, scope: 'openid', state: 's' }),
    );
    assert.match(new URL(again.headers.get('location')!, world.url).pathname, /^\/interaction\//);
    // The logout tokens themselves (signature, every claim, sid) are verified in test/oidc/logout.test.ts.
  });

  it('request objects: not supported, and said so (request_parameter_supported false)', async () => {
    assert.equal(meta['request_parameter_supported'], false);
    assert.equal(meta['request_object_signing_alg_values_supported'], undefined);
    const url = new URL(
      authorizeUrl(world.url, { clientId: web.client_id, redirectUri: REDIRECT_URI, scope: 'openid' }),
    );
    url.searchParams.set('request', 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.');
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'request_not_supported');
  });

  it('ui_locales: English, the one language the pages are in; other locales asked are accepted', async () => {
    assert.deepEqual(list('ui_locales_supported'), ['en']);
    const url = authorizeUrl(world.url, {
      clientId: web.client_id,
      redirectUri: REDIRECT_URI,
      scope: 'openid',
      extra: { ui_locales: 'de en' },
    });
    const browser = new Browser(world.url);
    const { res } = await browser.follow(await browser.get(url));
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<html lang="en">/);
  });

  it('registration: a public client registers there (RFC 7591); absent when DYNAMIC_REGISTRATION is off', async () => {
    assert.equal(meta['registration_endpoint'], `${world.url}/oauth/register`);
    const res = await fetch(String(meta['registration_endpoint']), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' }),
    });
    assert.equal(res.status, 201);
    const registered = (await res.json()) as { client_id: string };
    const pkce = pkceCodePair();
    const { redirect } = await authorizeOpenId(world.server, registered, person, {
      extra: { code_challenge: pkce.challenge, code_challenge_method: 'S256' },
    });
    const code = redirect.searchParams.get('code')!;
    const params = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier };
    assert.equal((await tokenRequest(world.server, registered, params, 'none')).status, 200);

    const off = await startWorld();
    try {
      for (const path of DOCUMENTS) {
        const doc = (await (await fetch(`${off.url}${path}`)).json()) as Metadata;
        assert.equal(doc['registration_endpoint'], undefined, path);
      }
      assert.equal((await fetch(`${off.url}/oauth/register`, { method: 'POST' })).status, 404);
    } finally {
      await off.close();
    }
  });

  it('request_uri: not supported, and said so (request_uri_parameter_supported false)', async () => {
    assert.equal(meta['request_uri_parameter_supported'], false);
    const url = new URL(
      authorizeUrl(world.url, { clientId: web.client_id, redirectUri: REDIRECT_URI, scope: 'openid' }),
    );
    url.searchParams.set('request_uri', `https://client.example/request/${crypto.randomUUID()}`);
    const res = await fetch(url, { redirect: 'manual' });
    const error = new URL(res.headers.get('location')!).searchParams.get('error');
    assert.equal(error, 'request_uri_not_supported');
  });

  // src/oidc/par.test.ts covers single use, expiry, required-per-application and client authentication.
  it('PAR: the pushed request endpoint gives a request_uri that yields a code; optional unless required', async () => {
    assert.equal(meta['pushed_authorization_request_endpoint'], `${world.url}/oauth/par`);
    assert.equal(meta['require_pushed_authorization_requests'], false);
    const res = await fetch(String(meta['pushed_authorization_request_endpoint']), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth(web) },
      body: new URLSearchParams({
        client_id: web.client_id,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
      }),
    });
    const pushed = (await res.json()) as { request_uri: string };
    assert.equal(res.status, 201, JSON.stringify(pushed));
    const start = `${meta['authorization_endpoint']}?${new URLSearchParams({ client_id: web.client_id, ...pushed })}`;
    const { redirect } = await authorizeAt(new Browser(world.url), start, person);
    const code = redirect.searchParams.get('code');
    assert.ok(code, String(redirect));
    const tokens = await tokenRequest(world.server, web, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    assert.equal(tokens.status, 200);
    // Not required: the same application's plain authorization request still works.
    assert.ok((await signInWithOpenId(world.server, web, person)).access_token);
  });

  // src/oidc/dpop.test.ts covers nonces, replay, another key, htu/htm/ath, refresh and require_dpop.
  it('DPoP: a proof by each advertised algorithm gets a bound token that /v2 takes only with a proof', async () => {
    assert.deepEqual(list('dpop_signing_alg_values_supported'), ['ES256', 'EdDSA', 'Ed25519']);
    const api = `${world.server.config.ISSUER}/v2/auth/test`;
    for (const alg of list('dpop_signing_alg_values_supported')) {
      const key = await DpopKey.create(alg);
      const res = await key.post(String(meta['token_endpoint']), {
        grant_type: 'client_credentials',
        client_id: service.client_id,
        client_secret: service.client_secret!,
      });
      const body = (await res.json()) as { token_type: string; access_token: string };
      assert.equal(res.status, 200, `${alg}: ${JSON.stringify(body)}`);
      assert.equal(body.token_type, 'DPoP', alg);
      const headers = await dpopHeaders(key, 'GET', api, body.access_token);
      assert.equal((await fetch(api, { headers })).status, 200, alg);
      assert.equal((await fetch(api, { headers: { Authorization: `Bearer ${body.access_token}` } })).status, 401);
    }
  });
});
