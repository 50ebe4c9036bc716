import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectApiError } from '../../../test/support/api.ts';
import { Browser, authorizeUrl, csrfFrom } from '../../../test/support/http.ts';
import { logIn } from '../../../test/support/oauth.ts';
import { BY_SYSTEM } from '../audit/audit.ts';
import {
  PASSWORD,
  REDIRECT_URI,
  request,
  startWorld,
  uniqueEmail,
  type TestUser,
  type TestWorld,
} from '../../../test/support/world.ts';

const LINKS = {
  logo_uri: 'https://cdn.acme.example/logo.png',
  client_uri: 'https://acme.example',
  policy_uri: 'https://acme.example/privacy',
  tos_uri: 'https://acme.example/terms',
};
const NO_LINKS = { logo_uri: null, client_uri: null, policy_uri: null, tos_uri: null };
const BODY = { name: 'Acme Reports', redirect_uris: [REDIRECT_URI], scopes: ['read:users'] };

/**
 * What the consent page shows of an application besides its name: its owner, and the logo,
 * homepage, privacy policy and terms it registered (`logo_uri`, `client_uri`, `policy_uri`,
 * `tos_uri` on /oauth/applications and the dashboard form).
 */
describe('application links and the consent page', () => {
  let world: TestWorld;
  let dev: TestUser;
  before(async () => {
    world = await startWorld();
    dev = await world.user({ tag: 'dev' });
  });
  after(() => world.close());

  const register = (body: unknown) => request(dev.browser, 'POST', '/oauth/applications', { body });

  describe('on /oauth/applications', () => {
    it('registers, answers, updates and removes the links; they are optional and null when absent', async () => {
      const plain = await register(BODY);
      assert.equal(plain.status, 201);
      assert.deepEqual(pick(plain.body, Object.keys(NO_LINKS)), NO_LINKS, 'the documented body still works');

      const res = await register({ ...BODY, ...LINKS });
      assert.equal(res.status, 201, await res.text());
      assert.deepEqual(pick(res.body, Object.keys(LINKS)), LINKS);
      const id = String(res.body['client_id']);

      const got = await request(dev.browser, 'GET', `/oauth/applications/${id}`);
      assert.deepEqual(pick(got.body, Object.keys(LINKS)), LINKS);

      const patched = await request(dev.browser, 'PATCH', `/oauth/applications/${id}`, {
        body: { tos_uri: null, client_uri: 'http://localhost:3000/' },
      });
      assert.equal(patched.status, 200, await patched.text());
      assert.deepEqual(pick(patched.body, Object.keys(LINKS)), {
        ...LINKS,
        tos_uri: null,
        client_uri: 'http://localhost:3000/',
      });
      const listed = await request(dev.browser, 'GET', '/oauth/applications');
      const mine = (listed.body['data'] as Record<string, unknown>[]).find((a) => a['client_id'] === id)!;
      assert.equal(mine['tos_uri'], null);
      assert.equal(mine['logo_uri'], LINKS.logo_uri);
    });

    for (const [label, value] of [
      ['http to a public host', 'http://acme.example/logo.png'],
      ['a javascript: URL', 'javascript:alert(1)'],
      ['a data: URL', 'data:image/png;base64,AAAA'],
      ['a relative URL', '/logo.png'],
      ['credentials in the URL', 'https://user:pw@acme.example/logo.png'],
      ['over 2000 characters', `https://acme.example/${'a'.repeat(2000)}`],
      ['not a string', 42],
    ] as const) {
      it(`refuses ${label}, naming the field`, async () => {
        for (const field of Object.keys(LINKS)) {
          await expectApiError(await register({ ...BODY, [field]: value }), 400, 'VALIDATION_FAILED', { field });
        }
      });
    }

    it('the OpenAPI document describes the links', async () => {
      const doc = (await request(world.server, 'GET', '/v2/openapi.json')).body;
      const text = JSON.stringify(doc);
      for (const field of Object.keys(LINKS)) assert.ok(text.includes(`"${field}"`), field);
    });
  });

  describe('in the dashboard form', () => {
    it('registers and edits the links; an empty field is no link; a bad one is shown on the form', async () => {
      const form = await (await dev.browser.get('/settings/applications/new')).text();
      for (const field of Object.keys(LINKS)) assert.match(form, new RegExp(`<input id="${field}" name="${field}"`));
      const fields = { _csrf: csrfFrom(form), name: 'Form App', type: 'web', redirect_uris: REDIRECT_URI };
      const refused = await dev.browser.request('/settings/applications', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          ...fields,
          scopes: 'read:users',
          logo_uri: 'http://acme.example/l.png',
        }).toString(),
      });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /logo_uri: must use https/);

      const made = await dev.browser.postForm('/settings/applications', {
        ...fields,
        scopes: 'read:users',
        ...LINKS,
        tos_uri: '',
      });
      assert.ok(made.status < 400, `registered: ${made.status}`);
      const apps = (await request(dev.browser, 'GET', '/oauth/applications')).body['data'] as Record<string, unknown>[];
      const app = apps.find((a) => a['name'] === 'Form App')!;
      assert.deepEqual(pick(app, Object.keys(LINKS)), { ...LINKS, tos_uri: null });

      const detail = await (await dev.browser.get(`/settings/applications/${app['client_id']}`)).text();
      assert.match(detail, new RegExp(`id="policy_uri" name="policy_uri"[^>]*value="${LINKS.policy_uri}"`));
      const saved = await dev.browser.postForm(`/settings/applications/${app['client_id']}`, {
        _csrf: csrfFrom(detail),
        name: 'Form App',
        redirect_uris: REDIRECT_URI,
        scopes: 'read:users',
        ...LINKS,
        policy_uri: '',
      });
      assert.equal(saved.status, 303);
      const after = (await request(dev.browser, 'GET', `/oauth/applications/${app['client_id']}`)).body;
      assert.deepEqual(pick(after, Object.keys(LINKS)), { ...LINKS, policy_uri: null });
    });
  });

  describe('on the consent page', () => {
    /** The consent page a new signed-in person sees for `clientId`, with its response. */
    async function consentFor(clientId: string) {
      const person = await world.user({ tag: 'person' });
      const url = authorizeUrl(world.url, { clientId, redirectUri: REDIRECT_URI, scope: 'read:users', state: 's' });
      const { res } = await person.browser.follow(await person.browser.get(url));
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.match(html, /\/confirm"/, 'the consent page');
      return { html, csp: res.headers.get('content-security-policy') ?? '' };
    }

    it("names the owner and shows the registered logo and links; the logo's origin only is allowed", async () => {
      const owner = new Browser(world.url);
      const email = uniqueEmail('owner');
      await world.server.built.services.accounts.signUp({ email, password: PASSWORD, name: 'Ada Owner' }, BY_SYSTEM);
      await logIn(owner, { email, password: PASSWORD });
      const res = await request(owner, 'POST', '/oauth/applications', { body: { ...BODY, ...LINKS } });
      const { html, csp } = await consentFor(String(res.body['client_id']));

      assert.match(html, /Registered by <strong>Ada Owner<\/strong>/);
      assert.match(
        html,
        /<img class="app-logo" src="https:\/\/cdn\.acme\.example\/logo\.png"[^>]*referrerpolicy="no-referrer"/,
      );
      assert.match(html, /href="https:\/\/acme\.example" target="_blank" rel="noopener noreferrer">Homepage/);
      assert.match(html, /href="https:\/\/acme\.example\/privacy"[^>]*>Privacy policy</);
      assert.match(html, /href="https:\/\/acme\.example\/terms"[^>]*>Terms of service</);
      assert.match(csp, /img-src 'self' data: https:\/\/cdn\.acme\.example;/);
      assert.doesNotMatch(html, /autofocus/, 'Enter does not approve');

      const login = await fetch(`${world.url}/login`);
      assert.match(
        login.headers.get('content-security-policy') ?? '',
        /img-src 'self' data:;/,
        'other pages unchanged',
      );
    });

    it('names the owner by email when they have no name, and shows nothing that was not registered', async () => {
      const res = await register(BODY);
      const { html, csp } = await consentFor(String(res.body['client_id']));
      assert.match(html, new RegExp(`Registered by <strong>${dev.email}</strong>`));
      assert.doesNotMatch(html, /app-logo|app-links|Privacy policy|Terms of service/);
      assert.match(csp, /img-src 'self' data:;/);
    });

    it('escapes a link that tries to break out of its attribute', async () => {
      const hostile = 'https://acme.example/x?a="><script>alert(1)</script>';
      const res = await register({ ...BODY, client_uri: hostile, logo_uri: `${hostile}&logo` });
      assert.equal(res.status, 201, await res.text());
      const { html } = await consentFor(String(res.body['client_id']));
      assert.doesNotMatch(html, /<script>alert/);
      assert.match(html, /href="https:\/\/acme\.example\/x\?a=&quot;&gt;&lt;script&gt;/);
    });
  });
});

function pick(body: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, body[k]]));
}
