/**
 * Per-application OpenID settings over real HTTP: `require_pkce` (who may turn PKCE off, and that
 * the authorization endpoint obeys it) and `subject_type` (pairwise `sub` in the ID token and at
 * userinfo, while /v2 and introspection still act for, and name, the real account).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type TestUser, type TestWorld } from '../support/world.ts';
import { pkcePair } from '../support/oauth.ts';
import { csrfFrom } from '../support/http.ts';
import { authorizeOpenId, signInWithOpenId, tokenRequest, userinfo, verifyIdToken } from '../support/openid.ts';

const HOST_A = 'https://a.example/callback';
const HOST_B = 'https://b.example/callback';

for (const format of ['opaque', 'jwt'] as const) {
  describe(`Application OpenID settings (${format} access tokens)`, () => {
    let world: TestWorld;
    let developer: TestUser;
    let person: TestUser;

    before(async () => {
      world = await startWorld({ env: { ACCESS_TOKEN_FORMAT: format } });
      developer = await world.user({ tag: 'dev' });
      person = await world.user({ tag: 'person' });
    });
    after(() => world.close());
    const server = () => world.server;

    async function registered(body: Record<string, unknown>) {
      const res = await developer.browser.postJson('/oauth/applications', {
        name: 'Settings app',
        scopes: ['read:users'],
        redirect_uris: [HOST_A],
        ...body,
      });
      const json = (await res.json()) as Record<string, unknown> & {
        client_id: string;
        client_secret?: string;
        error?: { field?: string; message: string };
      };
      return { status: res.status, json };
    }

    if (format === 'opaque') {
      it('answers require_pkce and subject_type, with their defaults, on every application', async () => {
        const web = await registered({});
        assert.equal(web.status, 201);
        assert.equal(web.json['require_pkce'], false, 'a web app registered as documented keeps the plain code flow');
        assert.equal(web.json['subject_type'], 'public');
        const spa = await registered({ type: 'spa' });
        assert.equal(spa.json['require_pkce'], true);
        const listed = await developer.browser.get(`/oauth/applications/${web.json.client_id}`);
        const got = (await listed.json()) as Record<string, unknown>;
        assert.equal(got['require_pkce'], false);
        assert.equal(got['subject_type'], 'public');
      });

      it('refuses require_pkce=false for public clients with a 400 naming the field', async () => {
        for (const type of ['spa', 'native']) {
          const res = await registered({ type, require_pkce: false });
          assert.equal(res.status, 400, type);
          const error = res.json.error!;
          assert.equal(error.field, 'require_pkce');
          assert.match(error.message, /public client/);
        }
        const spa = await registered({ type: 'spa' });
        const res = await developer.browser.request(`/oauth/applications/${spa.json.client_id}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ require_pkce: false }),
        });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: { field?: string } }).error.field, 'require_pkce');
      });

      it('refuses pairwise where there is no sector: no redirects, or redirect URIs on two hosts', async () => {
        const service = await registered({ type: 'service', redirect_uris: [], subject_type: 'pairwise' });
        assert.equal(service.status, 400);
        assert.equal(service.json.error?.field, 'subject_type');
        const twoHosts = await registered({ subject_type: 'pairwise', redirect_uris: [HOST_A, HOST_B] });
        assert.equal(twoHosts.status, 400);
        assert.match(twoHosts.json.error?.message ?? '', /one host/);
        const pairwise = await registered({ subject_type: 'pairwise', redirect_uris: [HOST_A, `${HOST_A}/2`] });
        assert.equal(pairwise.status, 201);
        const res = await developer.browser.request(`/oauth/applications/${pairwise.json.client_id}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ redirect_uris: [HOST_A, HOST_B] }),
        });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: { field?: string } }).error.field, 'redirect_uris');
      });

      it('a web application that requires PKCE gets no code without a challenge, and one with it', async () => {
        const { json: app } = await registered({ require_pkce: true });
        assert.equal(app['require_pkce'], true);
        const refused = await authorizeOpenId(world.server, app, person, { redirectUri: HOST_A });
        assert.equal(refused.redirect.searchParams.get('error'), 'invalid_request');
        assert.match(refused.redirect.searchParams.get('error_description') ?? '', /PKCE/);
        const pkce = pkcePair();
        const extra = { code_challenge: pkce.challenge, code_challenge_method: 'S256' };
        const { redirect } = await authorizeOpenId(world.server, app, person, { redirectUri: HOST_A, extra });
        const code = redirect.searchParams.get('code')!;
        const params = { grant_type: 'authorization_code', code, redirect_uri: HOST_A, code_verifier: pkce.verifier };
        assert.equal((await tokenRequest(world.server, app, params)).status, 200);
      });

      it('turning require_pkce off lets the same web application use the plain code flow', async () => {
        const { json: app } = await registered({ require_pkce: true });
        const res = await developer.browser.request(`/oauth/applications/${app.client_id}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ require_pkce: false }),
        });
        assert.equal(res.status, 200);
        assert.equal(((await res.json()) as Record<string, unknown>)['require_pkce'], false);
        const tokens = await signInWithOpenId(world.server, app, person, { redirectUri: HOST_A });
        assert.ok(tokens.id_token);
      });
    }

    if (format === 'opaque') {
      it('the dashboard form: a PKCE box for web apps (locked on for a spa), pairwise a choice', async () => {
        const form = async (path: string, fields: Record<string, string>) => {
          const page = await (await developer.browser.get(path)).text();
          return developer.browser.postForm(path.endsWith('/new') ? '/settings/applications' : path, {
            _csrf: csrfFrom(page),
            ...fields,
          });
        };
        const newPage = await (await developer.browser.get('/settings/applications/new')).text();
        assert.match(newPage, /name="require_pkce" value="on"[^>]*>/);
        assert.match(newPage, /name="require_pkce" value="on"[^>]*checked/, 'the form starts with PKCE required');
        const fields = { name: 'Form app', redirect_uris: HOST_A, scopes: 'read:users', subject_type: 'pairwise' };
        const web = await form('/settings/applications/new', { ...fields, type: 'web' });
        assert.equal(web.status, 303);
        const webId = decodeURIComponent(/applications\/([^/]+)\//.exec(web.headers.get('location')!)![1]!);
        const webApp = await server().built.services.applications.clientMetadata(webId);
        assert.equal(webApp?.['latchkey_require_pkce'], false, 'the box was not ticked');
        assert.equal(webApp?.['subject_type'], 'pairwise');
        const detail = await (await developer.browser.get(`/settings/applications/${webId}`)).text();
        assert.match(detail, /<dt>PKCE<\/dt><dd>Optional<\/dd>/);
        assert.match(detail, /<dt>Subject identifiers<\/dt><dd>Pairwise<\/dd>/);
        const ticked = await form(`/settings/applications/${webId}`, { ...fields, require_pkce: 'on' });
        assert.equal(ticked.status, 303);
        assert.equal(
          (await server().built.services.applications.clientMetadata(webId))?.['latchkey_require_pkce'],
          true,
        );

        const spa = await form('/settings/applications/new', { ...fields, type: 'spa', subject_type: 'public' });
        assert.equal(spa.status, 303);
        const spaId = decodeURIComponent(/applications\/([^/]+)\//.exec(spa.headers.get('location')!)![1]!);
        const spaDetail = await (await developer.browser.get(`/settings/applications/${spaId}`)).text();
        assert.match(spaDetail, /name="require_pkce" value="on"[^>]*checked[^>]*disabled/);
        // The locked box posts nothing; PKCE stays required.
        assert.equal((await form(`/settings/applications/${spaId}`, fields)).status, 303);
        assert.equal(
          (await server().built.services.applications.clientMetadata(spaId))?.['latchkey_require_pkce'],
          true,
        );
      });
    }

    it('pairwise: one sub per host, the same in the ID token and at userinfo, never the account id', async () => {
      const a = (await registered({ subject_type: 'pairwise', redirect_uris: [HOST_A] })).json;
      const a2 = (await registered({ subject_type: 'pairwise', redirect_uris: [`${HOST_A}/other`] })).json;
      const b = (await registered({ subject_type: 'pairwise', redirect_uris: [HOST_B] })).json;
      const pub = (await registered({ redirect_uris: [HOST_B] })).json;
      const subOf = async (app: typeof a, redirectUri: string) => {
        const tokens = await signInWithOpenId(world.server, app, person, { redirectUri });
        const { payload } = await verifyIdToken(world.server, app, tokens.id_token);
        const info = (await (await userinfo(world.server, tokens.access_token)).json()) as { sub: string };
        assert.equal(info.sub, payload.sub, 'userinfo and the ID token name the person alike');
        return { sub: payload.sub!, tokens };
      };
      const [subA, subA2, subB, subPub] = [
        await subOf(a, HOST_A),
        await subOf(a2, `${HOST_A}/other`),
        await subOf(b, HOST_B),
        await subOf(pub, HOST_B),
      ];
      assert.notEqual(subA.sub, person.id);
      assert.notEqual(subB.sub, person.id);
      assert.notEqual(subA.sub, subB.sub, 'two sectors cannot match the person up');
      assert.equal(subA.sub, subA2.sub, 'one sector (host) sees one sub');
      assert.equal(subPub.sub, person.id, 'a public application sees the account id');
      assert.equal((await subOf(a, HOST_A)).sub, subA.sub, 'stable across sign-ins');

      // The access token still acts for the account at /v2 ...
      const me = await world.request('GET', '/v2/auth/test', { bearer: subA.tokens.access_token });
      assert.equal(me.status, 200);
      assert.equal((me.body as { subject: string }).subject, person.id);
      // ... and a resource server introspecting it is told the account.
      const rs = (await registered({ type: 'resource_server', redirect_uris: [] })).json;
      const basic = `Basic ${Buffer.from(`${rs.client_id}:${rs.client_secret}`).toString('base64')}`;
      const introspected = await fetch(`${world.url}/oauth/introspect`, {
        method: 'POST',
        headers: { Authorization: basic, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: subA.tokens.access_token }).toString(),
      });
      const answer = (await introspected.json()) as { active: boolean; sub: string };
      assert.equal(answer.active, true);
      assert.equal(answer.sub, person.id);
    });
  });
}
