/**
 * Dynamic client registration (RFC 7591) and management (RFC 7592) against the real server: each
 * mode, the initial and registration access tokens, review, and the RFCs' error answers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { introspect, pkcePair } from '../../../test/support/oauth.ts';
import { authorizeOpenId, tokenRequest } from '../../../test/support/openid.ts';
import {
  REDIRECT_URI,
  startWorld,
  type RegisteredApp,
  type TestUser,
  type TestWorld,
} from '../../../test/support/world.ts';

type Json = Record<string, unknown>;

const PUBLIC_CLIENT = {
  client_name: 'Agent',
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  scope: 'openid read:users',
  some_extension_we_do_not_know: { ignored: true },
};
const CONFIDENTIAL_CLIENT = {
  client_name: 'Web agent',
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'client_secret_basic',
};

async function call(
  world: TestWorld,
  method: string,
  path: string,
  o: { body?: unknown; raw?: string; bearer?: string; contentType?: string } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (o.bearer) headers['Authorization'] = `Bearer ${o.bearer}`;
  const body = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  if (body !== undefined) headers['Content-Type'] = o.contentType ?? 'application/json';
  const res = await fetch(`${world.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
}

const register = (world: TestWorld, body: unknown, bearer?: string) =>
  call(world, 'POST', '/oauth/register', { body, ...(bearer ? { bearer } : {}) });

async function countApplications(world: TestWorld): Promise<number> {
  const row = await world.server.db
    .selectFrom('applications')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The code flow with PKCE for a public client, as a person signs in and consents. */
async function pkceSignIn(world: TestWorld, app: RegisteredApp, person: TestUser) {
  const pkce = pkcePair();
  const { redirect, consentHtml } = await authorizeOpenId(world.server, app, person, {
    scope: 'openid read:users',
    extra: { code_challenge: pkce.challenge, code_challenge_method: 'S256' },
  });
  const code = redirect.searchParams.get('code')!;
  const res = await tokenRequest(
    world.server,
    app,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce.verifier },
    'none',
  );
  return { res, body: (await res.json()) as Json, consentHtml: consentHtml ?? '' };
}

async function issueToken(admin: TestUser, body: Json = {}) {
  const res = await admin.browser.postJson('/v2/admin/registration-tokens', body);
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as Json & { token: string; id: string };
}

describe('dynamic registration off (the default)', () => {
  let world: TestWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  it('has no /oauth/register and discovery does not advertise one', async () => {
    assert.equal((await register(world, PUBLIC_CLIENT)).status, 404);
    for (const doc of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const meta = (await (await fetch(`${world.url}${doc}`)).json()) as Json;
      assert.equal(meta['registration_endpoint'], undefined, doc);
    }
    assert.equal(await countApplications(world), 0);
  });
});

describe('dynamic registration open', () => {
  let world: TestWorld;
  let person: TestUser;
  before(async () => {
    world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'open' } });
    person = await world.user({ tag: 'person' });
  });
  after(() => world.close());

  it('a public client registers and completes the code flow with PKCE; the consent page warns', async () => {
    const meta = (await (await fetch(`${world.url}/.well-known/oauth-authorization-server`)).json()) as Json;
    assert.equal(meta['registration_endpoint'], `${world.url}/oauth/register`);
    const res = await register(world, PUBLIC_CLIENT);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const b = res.body;
    assert.match(String(b['client_id']), /^app_/);
    assert.equal(b['client_secret'], undefined);
    assert.equal(b['token_endpoint_auth_method'], 'none');
    assert.match(String(b['registration_access_token']), /^lkrat_/);
    assert.equal(b['registration_client_uri'], `${world.url}/oauth/register/${b['client_id']}`);
    assert.equal(typeof b['client_id_issued_at'], 'number');
    assert.deepEqual(b['redirect_uris'], [REDIRECT_URI]);
    assert.equal(b['some_extension_we_do_not_know'], undefined);
    assert.match(String(b['scope']), /read:users/);

    const app = { client_id: String(b['client_id']) };
    const { res: tokens, body, consentHtml } = await pkceSignIn(world, app, person);
    assert.equal(tokens.status, 200, JSON.stringify(body));
    assert.ok(body['access_token']);
    assert.match(consentHtml, /Unverified:/);
    assert.doesNotMatch(consentHtml, /Registered by/);
    // Without PKCE the authorization request is refused: a self-registered public client always needs it.
    const noPkce = await fetch(
      `${world.url}/oauth/authorize?${new URLSearchParams({
        client_id: app.client_id,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
      })}`,
      { redirect: 'manual' },
    );
    assert.equal(new URL(noPkce.headers.get('location')!).searchParams.get('error'), 'invalid_request');
  });

  it('refuses confidential clients, admin:all, unknown grants (invalid_client_metadata); stores nothing', async () => {
    const before = await countApplications(world);
    const refusals: Array<[unknown, string]> = [
      [CONFIDENTIAL_CLIENT, 'token_endpoint_auth_method'],
      [{ redirect_uris: [REDIRECT_URI] }, 'token_endpoint_auth_method'], // RFC 7591's default: client_secret_basic
      [{ ...PUBLIC_CLIENT, scope: 'openid admin:all' }, 'admin:all'],
      [{ ...PUBLIC_CLIENT, grant_types: ['implicit'] }, 'grant_types'],
      [{ ...PUBLIC_CLIENT, response_types: ['token'] }, 'response_types'],
      [{ ...PUBLIC_CLIENT, logo_uri: 'http://evil.example/logo.png' }, 'logo_uri'],
      [{ ...PUBLIC_CLIENT, client_name: 42 }, 'client_name'],
    ];
    for (const [body, mention] of refusals) {
      const res = await register(world, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body['error'], 'invalid_client_metadata', JSON.stringify(body));
      assert.match(String(res.body['error_description']), new RegExp(mention));
    }
    assert.equal(await countApplications(world), before);
  });

  it('bad redirect URIs: invalid_redirect_uri; bad JSON, non-JSON: invalid_client_metadata; no 500', async () => {
    const before = await countApplications(world);
    for (const uris of [['http://evil.example/cb'], ['https://a.example/cb#frag'], ['not a url'], []]) {
      const res = await register(world, { ...PUBLIC_CLIENT, redirect_uris: uris });
      assert.equal(res.status, 400);
      assert.equal(res.body['error'], 'invalid_redirect_uri', JSON.stringify(uris));
    }
    for (const raw of ['{"redirect_uris": [', '[]', '"text"', 'null']) {
      const res = await call(world, 'POST', '/oauth/register', { raw });
      assert.equal(res.status, 400, raw);
      assert.equal(res.body['error'], 'invalid_client_metadata', raw);
    }
    const form = await call(world, 'POST', '/oauth/register', {
      raw: 'redirect_uris=https://a.example',
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 400);
    assert.equal(form.body['error'], 'invalid_client_metadata');
    const nul = await register(world, { ...PUBLIC_CLIENT, client_name: 'a\u0000b' });
    assert.equal(nul.status, 400);
    assert.equal(await countApplications(world), before);
  });

  it('RFC 7592: reads, updates and deletes itself with its registration access token', async () => {
    const created = (await register(world, PUBLIC_CLIENT)).body;
    const uri = new URL(String(created['registration_client_uri'])).pathname;
    const rat = String(created['registration_access_token']);
    const read = await call(world, 'GET', uri, { bearer: rat });
    assert.equal(read.status, 200);
    assert.equal(read.body['client_id'], created['client_id']);
    assert.equal(read.body['registration_access_token'], undefined);

    const update = { ...PUBLIC_CLIENT, client_id: created['client_id'], client_name: 'Agent v2' };
    const updated = await call(world, 'PUT', uri, { bearer: rat, body: update });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body['client_name'], 'Agent v2');
    assert.equal((await call(world, 'GET', uri, { bearer: rat })).body['client_name'], 'Agent v2');
    // A client keeps its type; the body must name it.
    const toConfidential = await call(world, 'PUT', uri, {
      bearer: rat,
      body: { ...update, token_endpoint_auth_method: 'client_secret_basic' },
    });
    assert.equal(toConfidential.body['error'], 'invalid_client_metadata');
    const wrongId = await call(world, 'PUT', uri, { bearer: rat, body: { ...update, client_id: 'app_other' } });
    assert.equal(wrongId.body['error'], 'invalid_client_metadata');

    assert.equal((await call(world, 'DELETE', uri, { bearer: rat })).status, 204);
    const gone = await call(world, 'GET', uri, { bearer: rat });
    assert.equal(gone.status, 401);
    assert.equal(gone.body['error'], 'invalid_token');
    assert.equal(await world.server.built.services.applications.exists(String(created['client_id'])), false);
  });

  it("one client's registration access token cannot read, update or delete another", async () => {
    const a = (await register(world, PUBLIC_CLIENT)).body;
    const b = (await register(world, PUBLIC_CLIENT)).body;
    const bUri = new URL(String(b['registration_client_uri'])).pathname;
    const aToken = String(a['registration_access_token']);
    const attempts = [
      await call(world, 'GET', bUri, { bearer: aToken }),
      await call(world, 'PUT', bUri, { bearer: aToken, body: { ...PUBLIC_CLIENT, client_id: b['client_id'] } }),
      await call(world, 'DELETE', bUri, { bearer: aToken }),
      await call(world, 'GET', bUri),
      await call(world, 'GET', bUri, { bearer: 'lkrat_not-a-token' }),
    ];
    for (const res of attempts) {
      assert.equal(res.status, 401);
      assert.equal(res.body['error'], 'invalid_token');
      assert.match(String(res.headers.get('www-authenticate')), /^Bearer error="invalid_token"/);
    }
    const still = await call(world, 'GET', bUri, { bearer: String(b['registration_access_token']) });
    assert.equal(still.status, 200);
    assert.equal(still.body['client_name'], 'Agent');
  });

  it('an admin approves (the warning goes) or rejects (the client stops at once, its tokens too)', async () => {
    const admin = await world.user({ admin: true, tag: 'admin' });
    const approvedApp = (await register(world, PUBLIC_CLIENT)).body;
    const approve = await admin.browser.postJson(`/oauth/applications/${approvedApp['client_id']}/review`, {
      decision: 'approve',
    });
    assert.equal(approve.status, 200, await approve.clone().text());
    assert.equal(((await approve.json()) as Json)['review_state'], 'approved');
    const approved = await pkceSignIn(world, { client_id: String(approvedApp['client_id']) }, person);
    assert.doesNotMatch(approved.consentHtml, /Unverified:/);

    // Nobody but an admin (or an owner: open-mode clients have none) reviews.
    const stranger = await world.user({ tag: 'stranger' });
    const rejectedApp = (await register(world, PUBLIC_CLIENT)).body;
    const clientId = String(rejectedApp['client_id']);
    const refused = await stranger.browser.postJson(`/oauth/applications/${clientId}/review`, { decision: 'reject' });
    assert.equal(refused.status, 403);

    const signedIn = await pkceSignIn(world, { client_id: clientId }, person);
    const accessToken = String(signedIn.body['access_token']);
    const refreshToken = String(signedIn.body['refresh_token']);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: accessToken })).status, 200);
    const rs = await world.app(undefined, { type: 'resource_server', scopes: [] });
    assert.equal((await introspect(world.server, rs, accessToken))['active'], true);

    const reject = await admin.browser.postJson(`/oauth/applications/${clientId}/review`, { decision: 'reject' });
    assert.equal(reject.status, 200);
    assert.equal((await world.request('GET', '/v2/auth/test', { bearer: accessToken })).status, 401);
    assert.equal((await introspect(world.server, rs, accessToken))['active'], false);
    const refreshed = await tokenRequest(
      world.server,
      { client_id: clientId },
      { grant_type: 'refresh_token', refresh_token: refreshToken },
      'none',
    );
    assert.equal(((await refreshed.json()) as Json)['error'], 'invalid_client');
    const authorize = await fetch(
      `${world.url}/oauth/authorize?${new URLSearchParams({
        client_id: clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: 'openid',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    );
    assert.equal(authorize.status, 400, 'an unknown client: an error page, no redirect');
    const manage = await call(world, 'GET', new URL(String(rejectedApp['registration_client_uri'])).pathname, {
      bearer: String(rejectedApp['registration_access_token']),
    });
    assert.equal(manage.status, 401);
  });
});

describe('dynamic registration in the dashboard', () => {
  let world: TestWorld;
  before(async () => {
    world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'open' } });
  });
  after(() => world.close());

  it('admins see self-registered clients pending review and approve or reject them with the form (CSRF)', async () => {
    const admin = await world.user({ admin: true, tag: 'admin' });
    const registered = (await register(world, { ...PUBLIC_CLIENT, client_name: 'Dashboard agent' })).body;
    const clientId = String(registered['client_id']);
    const list = await (await admin.browser.get('/settings/applications')).text();
    assert.match(list, /Registered dynamically — pending review/);
    assert.match(list, new RegExp(`href="/settings/applications/${clientId}">Dashboard agent</a>`));
    const detail = await (await admin.browser.get(`/settings/applications/${clientId}`)).text();
    assert.match(detail, /Registered dynamically — pending review/);

    const noCsrf = await admin.browser.postForm(`/settings/applications/${clientId}/review`, { decision: 'approve' });
    assert.equal(noCsrf.status, 403);
    const approved = await admin.browser.postForm(`/settings/applications/${clientId}/review`, {
      _csrf: csrfFrom(detail),
      decision: 'approve',
    });
    assert.equal(approved.status, 303);
    const after = await (await admin.browser.get(`/settings/applications/${clientId}`)).text();
    assert.match(after, /Registered dynamically — approved/);
    assert.doesNotMatch(await (await admin.browser.get('/settings/applications')).text(), /Dashboard agent/);
    // The review is in the trail: the admin decided, about the client's holder's application.
    const [reviewed] = await world.server.built.services.auditLog.list(
      { actorAccountId: admin.id, types: ['application.changed'] },
      { limit: 1 },
    );
    assert.equal(reviewed?.target?.id, clientId);
    assert.equal(reviewed?.data['review_state'], 'approved');

    // Someone who is neither its owner nor an admin sees nothing to review and cannot review it.
    const stranger = await world.user({ tag: 'stranger' });
    const theirs = await (await stranger.browser.get('/settings/applications')).text();
    assert.doesNotMatch(theirs, /pending review/);
    const page = await (await stranger.browser.get('/settings/applications')).text();
    const refused = await stranger.browser.postForm(`/settings/applications/${clientId}/review`, {
      _csrf: csrfFrom(page),
      decision: 'reject',
    });
    assert.notEqual(refused.status, 303);
    const still = await world.server.built.services.applications.clientMetadata(clientId);
    assert.ok(still, 'the client still works');
  });
});

describe('dynamic registration open: rate limited per address', () => {
  let world: TestWorld;
  before(async () => {
    world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'open', RATE_LIMIT_REGISTRATION: '3,3' } });
  });
  after(() => world.close());

  it('the fourth registration in an hour is 429 with Retry-After, and stores nothing', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await register(world, PUBLIC_CLIENT)).status, 201);
    const over = await register(world, PUBLIC_CLIENT);
    assert.equal(over.status, 429);
    assert.equal(over.body['error'], 'rate_limited');
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    assert.equal(await countApplications(world), 3);
  });
});

describe('dynamic registration with initial access tokens', () => {
  let world: TestWorld;
  let admin: TestUser;
  let clock: number;
  before(async () => {
    clock = Date.now();
    world = await startWorld({ env: { DYNAMIC_REGISTRATION: 'token' }, now: () => clock });
    admin = await world.user({ admin: true, tag: 'admin' });
  });
  after(() => world.close());

  it('only admins issue them, and the token is shown once', async () => {
    const dev = await world.user({ tag: 'dev' });
    const refused = await dev.browser.postJson('/v2/admin/registration-tokens', {});
    assert.equal(refused.status, 403);
    const issued = await issueToken(admin, { max_uses: 2 });
    assert.match(issued.token, /^lkiat_/);
    const listed = await admin.browser.get('/v2/admin/registration-tokens');
    const data = ((await listed.json()) as { data: Json[] }).data;
    const mine = data.find((t) => t['id'] === issued.id)!;
    assert.equal(mine['max_uses'], 2);
    assert.equal(mine['token'], undefined);
  });

  it('no, invalid, expired, used-up tokens: invalid_token; a valid one registers confidential clients', async () => {
    const before = await countApplications(world);
    for (const bearer of [undefined, 'lkiat_bogus', 'not even a token']) {
      const res = await register(world, PUBLIC_CLIENT, bearer);
      assert.equal(res.status, 401, String(bearer));
      assert.equal(res.body['error'], 'invalid_token');
    }
    const once = await issueToken(admin, { max_uses: 1 });
    const web = await register(world, CONFIDENTIAL_CLIENT, once.token);
    assert.equal(web.status, 201, JSON.stringify(web.body));
    assert.match(String(web.body['client_secret']), /^lkcs_/);
    assert.equal(web.body['client_secret_expires_at'], 0);
    assert.equal(web.body['token_endpoint_auth_method'], 'client_secret_basic');
    const usedUp = await register(world, PUBLIC_CLIENT, once.token);
    assert.equal(usedUp.status, 401);

    const shortLived = await issueToken(admin, { expires_in: 60 });
    clock += 61_000;
    const expired = await register(world, PUBLIC_CLIENT, shortLived.token);
    assert.equal(expired.status, 401);
    assert.equal(await countApplications(world), before + 1);

    // The admin who issued the token owns the client: it is in their list, pending review.
    const list = (await (await admin.browser.get('/oauth/applications')).json()) as { data: Json[] };
    const owned = list.data.find((a) => a['client_id'] === web.body['client_id'])!;
    assert.equal(owned['registration'], 'dynamic');
    assert.equal(owned['review_state'], 'pending');

    // A confidential client authenticates with its secret (client_credentials when it registered so).
    const service = await register(
      world,
      {
        client_name: 'Worker',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        scope: 'read:users',
      },
      (await issueToken(admin)).token,
    );
    assert.equal(service.status, 201, JSON.stringify(service.body));
    const cc = await tokenRequest(
      world.server,
      { client_id: String(service.body['client_id']), client_secret: String(service.body['client_secret']) },
      { grant_type: 'client_credentials', scope: 'read:users' },
    );
    assert.equal(cc.status, 200);
  });

  it('keeps only hashes: no registration, initial access token or secret in any row', async () => {
    const iat = await issueToken(admin);
    const reg = await register(world, CONFIDENTIAL_CLIENT, iat.token);
    const secrets = [iat.token, String(reg.body['registration_access_token']), String(reg.body['client_secret'])];
    const dump = await dumpDatabase(world.server.db);
    for (const secret of secrets) {
      const tail = secret.slice(secret.indexOf('_') + 1);
      const found = dump.filter((d) => d.value.includes(tail));
      assert.deepEqual(found, [], `${secret.slice(0, 6)}… is stored`);
    }
  });
});
