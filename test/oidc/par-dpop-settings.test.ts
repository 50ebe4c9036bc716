/**
 * The per-application PAR and DPoP settings over real HTTP: `require_pushed_authorization_requests`
 * and `require_dpop` through /oauth/applications (defaults, who may have them, updates), the
 * dashboard form, the OpenAPI document, and the client metadata oidc-provider is given.
 * What each setting enforces is proved in src/oidc/par.test.ts and src/oidc/dpop.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { csrfFrom } from '../support/http.ts';
import { REDIRECT_URI, startWorld, type TestUser, type TestWorld } from '../support/world.ts';

describe('Application settings: require_pushed_authorization_requests and require_dpop', () => {
  let world: TestWorld;
  let developer: TestUser;

  before(async () => {
    world = await startWorld();
    developer = await world.user({ tag: 'dev' });
  });
  after(() => world.close());

  async function registered(body: Record<string, unknown>) {
    const res = await developer.browser.postJson('/oauth/applications', {
      name: 'Settings app',
      scopes: ['read:users'],
      redirect_uris: [REDIRECT_URI],
      ...body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> & { client_id: string } };
  }
  const metadata = (clientId: string) => world.server.built.services.applications.clientMetadata(clientId);

  it('both default to false on every type, and are given to oidc-provider only when on', async () => {
    for (const type of ['web', 'spa', 'native', 'service', 'resource_server']) {
      const redirects = ['service', 'resource_server'].includes(type) ? { redirect_uris: [] } : {};
      const { status, json } = await registered({ type, ...redirects });
      assert.equal(status, 201, JSON.stringify(json));
      assert.equal(json['require_pushed_authorization_requests'], false, type);
      assert.equal(json['require_dpop'], false, type);
      const meta = await metadata(json.client_id);
      assert.equal(meta?.['require_pushed_authorization_requests'], undefined, type);
      assert.equal(meta?.['dpop_bound_access_tokens'], undefined, type);
    }
  });

  it('set on registration and changed by update; the client metadata follows', async () => {
    const { json } = await registered({ type: 'spa', require_pushed_authorization_requests: true, require_dpop: true });
    assert.equal(json['require_pushed_authorization_requests'], true);
    assert.equal(json['require_dpop'], true);
    let meta = await metadata(json.client_id);
    assert.equal(meta?.['require_pushed_authorization_requests'], true);
    assert.equal(meta?.['dpop_bound_access_tokens'], true);
    const res = await developer.browser.request(`/oauth/applications/${json.client_id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ require_dpop: false }),
    });
    const updated = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(updated));
    assert.equal(updated['require_dpop'], false);
    assert.equal(updated['require_pushed_authorization_requests'], true, 'left as it was');
    meta = await metadata(json.client_id);
    assert.equal(meta?.['dpop_bound_access_tokens'], undefined);
    assert.equal(meta?.['require_pushed_authorization_requests'], true);
  });

  it('refused, naming the field: PAR where nothing is authorized, DPoP for a resource server', async () => {
    const service = await registered({
      type: 'service',
      redirect_uris: [],
      require_pushed_authorization_requests: true,
    });
    assert.equal(service.status, 400);
    assert.equal((service.json['error'] as { field?: string }).field, 'require_pushed_authorization_requests');
    const api = await registered({ type: 'resource_server', redirect_uris: [], require_dpop: true });
    assert.equal(api.status, 400);
    assert.equal((api.json['error'] as { field?: string }).field, 'require_dpop');
    const dpopService = await registered({ type: 'service', redirect_uris: [], require_dpop: true });
    assert.equal(dpopService.status, 201, 'a service may bind its client_credentials tokens');
    const notBoolean = await registered({ require_dpop: 'yes' });
    assert.equal(notBoolean.status, 400);
    assert.equal((notBoolean.json['error'] as { field?: string }).field, 'require_dpop');
  });

  it('the dashboard form: both boxes for web, only DPoP for a service, none for a resource server', async () => {
    const newPage = await (await developer.browser.get('/settings/applications/new')).text();
    assert.match(newPage, /name="require_pushed_authorization_requests"\s+value="on"/);
    assert.match(newPage, /name="require_dpop" value="on"/);
    const created = await developer.browser.postForm('/settings/applications', {
      _csrf: csrfFrom(newPage),
      name: 'Form app',
      type: 'web',
      redirect_uris: REDIRECT_URI,
      scopes: 'read:users',
      require_pushed_authorization_requests: 'on',
      require_dpop: 'on',
    });
    assert.equal(created.status, 303);
    const id = decodeURIComponent(/applications\/([^/]+)\//.exec(created.headers.get('location')!)![1]!);
    const meta = await metadata(id);
    assert.equal(meta?.['require_pushed_authorization_requests'], true);
    assert.equal(meta?.['dpop_bound_access_tokens'], true);
    const detail = await (await developer.browser.get(`/settings/applications/${id}`)).text();
    assert.match(detail, /<dt>Pushed authorization requests<\/dt>\s*<dd>Required<\/dd>/);
    assert.match(detail, /<dt>DPoP-bound tokens<\/dt><dd>Required<\/dd>/);
    assert.match(detail, /name="require_dpop" value="on"[^>]*checked/);
    // Unticking both turns both off.
    const off = await developer.browser.postForm(`/settings/applications/${id}`, {
      _csrf: csrfFrom(detail),
      name: 'Form app',
      redirect_uris: REDIRECT_URI,
      scopes: 'read:users',
    });
    assert.equal(off.status, 303);
    assert.equal((await metadata(id))?.['dpop_bound_access_tokens'], undefined);
    assert.equal((await metadata(id))?.['require_pushed_authorization_requests'], undefined);

    const service = await registered({ type: 'service', redirect_uris: [] });
    const servicePage = await (await developer.browser.get(`/settings/applications/${service.json.client_id}`)).text();
    assert.match(servicePage, /name="require_dpop"/);
    assert.doesNotMatch(servicePage, /name="require_pushed_authorization_requests"/);
    const api = await registered({ type: 'resource_server', redirect_uris: [] });
    const apiPage = await (await developer.browser.get(`/settings/applications/${api.json.client_id}`)).text();
    assert.doesNotMatch(apiPage, /name="require_dpop"/);
  });

  it('the OpenAPI document describes both fields on the application and in registration', async () => {
    const doc = JSON.stringify(await (await fetch(`${world.url}/v2/openapi.json`)).json());
    for (const field of ['require_pushed_authorization_requests', 'require_dpop']) {
      assert.ok(doc.split(`"${field}"`).length >= 3, `${field} is in the view and the request schemas`);
    }
    assert.match(doc, /pushed to \/oauth\/par first \(RFC 9126\)/);
  });
});
