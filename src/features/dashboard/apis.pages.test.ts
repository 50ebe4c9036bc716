import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { Browser, csrfFrom, signUp } from '../../../test/support/http.ts';

// Settings → APIs over HTTP: register, list, edit the scopes, see the metadata to publish, delete
// (refused while a resource server belongs to the API); someone else's API is not there; bad input
// is explained beside its field and writes nothing; every form needs the CSRF token.

const PASSWORD = 'correct horse battery';

describe('dashboard: APIs pages', { timeout: 120_000 }, () => {
  let server: TestServer;
  let users = 0;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.dispose();
  });

  async function signedIn(): Promise<{ browser: Browser; userId: string }> {
    const browser = new Browser(server.url);
    const email = `apidash${++users}@example.com`;
    await signUp(browser, email, PASSWORD);
    const account = await server.built.services.accounts.authenticate(email, PASSWORD);
    return { browser, userId: (account as { id: string }).id };
  }

  /** The APIs the account owns, read from the service (not from the pages under test). */
  const apisOf = async (userId: string) =>
    (await server.built.services.apis.list(sessionPrincipal({ id: userId, isAdmin: false }), { limit: 100, offset: 0 }))
      .data;

  async function html(browser: Browser, path: string): Promise<string> {
    const res = await browser.get(path);
    assert.equal(res.status, 200, `GET ${path}`);
    return res.text();
  }

  /** Posts a form the way the page would: with the CSRF token read from `fromPage`. */
  async function post(
    browser: Browser,
    fromPage: string,
    action: string,
    fields: Record<string, string>,
  ): Promise<Response> {
    const body = new URLSearchParams({ _csrf: csrfFrom(await html(browser, fromPage)), ...fields });
    return browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }

  const ORDERS = {
    name: 'Orders',
    identifier: 'https://orders.example.com/v1',
    scopes: 'read:orders: Read your orders\r\nwrite:orders: Place orders for you',
    access_token_format: 'jwt',
    access_token_ttl: '900',
  };

  it('register, list, edit the scopes, show the metadata, delete once no resource server belongs to it', async () => {
    const { browser, userId } = await signedIn();
    const empty = await html(browser, '/settings/apis');
    assert.match(empty, /<a href="\/settings\/apis" aria-current="page">APIs<\/a>/, 'the navigation marks APIs');
    assert.match(empty, /No APIs yet/);
    assert.match(empty, /href="\/docs#\/APIs"/);

    const created = await post(browser, '/settings/apis/new', '/settings/apis', ORDERS);
    assert.equal(created.status, 303);
    const [api] = await apisOf(userId);
    assert.ok(api);
    assert.equal(created.headers.get('location'), `/settings/apis/${api.id}`);
    assert.deepEqual(api.scopes, [
      { name: 'read:orders', description: 'Read your orders' },
      { name: 'write:orders', description: 'Place orders for you' },
    ]);
    assert.equal(api.access_token_format, 'jwt');
    assert.equal(api.access_token_ttl, 900);

    const list = await html(browser, '/settings/apis');
    assert.match(list, new RegExp(`href="/settings/apis/${api.id}">Orders</a>`));
    assert.match(list, /https:\/\/orders\.example\.com\/v1/);
    assert.match(list, /2 scopes/);

    const detail = await html(browser, `/settings/apis/${api.id}`);
    assert.match(detail, /value="https:\/\/orders\.example\.com\/\.well-known\/oauth-protected-resource\/v1"/);
    assert.match(detail, /id="identifier" type="text" readonly/);
    assert.doesNotMatch(detail, /name="identifier"/, 'the identifier is never posted: it cannot change');
    // The document shown is the one GET /v2/apis/{id}/metadata answers.
    const document = /<pre class="code"[^>]*><code>([^<]*)<\/code><\/pre>/.exec(detail)?.[1] ?? '';
    const shown = JSON.parse(document.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&'));
    const expected = await server.built.services.apis.metadata(
      sessionPrincipal({ id: userId, isAdmin: false }),
      api.id,
    );
    assert.deepEqual(shown, expected);
    assert.deepEqual(shown.scopes_supported, ['read:orders', 'write:orders']);

    const edited = await post(browser, `/settings/apis/${api.id}`, `/settings/apis/${api.id}`, {
      name: 'Orders API',
      identifier: 'https://evil.example.com',
      scopes: 'read:orders: See your orders\n\nrefund:orders: Refund your orders\n',
      access_token_format: 'opaque',
      access_token_ttl: '600',
    });
    assert.equal(edited.status, 303);
    assert.equal(edited.headers.get('location'), `/settings/apis/${api.id}?done=api-updated`);
    const [after] = await apisOf(userId);
    assert.equal(after?.name, 'Orders API');
    assert.equal(after?.identifier, ORDERS.identifier, 'a posted identifier is ignored');
    assert.deepEqual(after?.scopes, [
      { name: 'read:orders', description: 'See your orders' },
      { name: 'refund:orders', description: 'Refund your orders' },
    ]);
    assert.equal(after?.access_token_format, 'opaque');
    assert.equal(after?.access_token_ttl, 600);
    assert.match(await html(browser, `/settings/apis/${api.id}?done=api-updated`), /API saved\./);

    // A resource server belongs to it: the deletion is refused on the confirmation page, with why.
    const resourceServer = await browser.postJson('/oauth/applications', {
      name: 'Orders server',
      type: 'resource_server',
      scopes: [],
      api: ORDERS.identifier,
    });
    assert.equal(resourceServer.status, 201, await resourceServer.clone().text());
    const { client_id: serverId } = (await resourceServer.json()) as { client_id: string };
    const confirm = await html(browser, `/settings/apis/${api.id}/delete`);
    assert.match(confirm, /Delete the API “Orders API”\?/);
    const refused = await post(browser, `/settings/apis/${api.id}/delete`, `/settings/apis/${api.id}/delete`, {});
    assert.equal(refused.status, 409);
    assert.match(await refused.text(), /1 resource_server application\(s\) belong to this API/);
    assert.equal((await apisOf(userId)).length, 1);

    const appDeleted = await post(
      browser,
      `/settings/applications/${serverId}/delete`,
      `/settings/applications/${serverId}/delete`,
      {},
    );
    assert.equal(appDeleted.status, 303);
    const deleted = await post(browser, `/settings/apis/${api.id}/delete`, `/settings/apis/${api.id}/delete`, {});
    assert.equal(deleted.status, 303);
    assert.equal(deleted.headers.get('location'), '/settings/apis?done=api-deleted');
    assert.deepEqual(await apisOf(userId), []);
    assert.equal((await browser.get(`/settings/apis/${api.id}`)).status, 404);
  });

  it("another account's API is not found: not seen, not edited, not deleted", async () => {
    const owner = await signedIn();
    const posted = await post(owner.browser, '/settings/apis/new', '/settings/apis', {
      ...ORDERS,
      identifier: 'https://owned.example.com',
      scopes: 'read:owned: Read owned things',
    });
    assert.equal(posted.status, 303);
    const [api] = await apisOf(owner.userId);
    assert.ok(api);

    const other = await signedIn();
    assert.doesNotMatch(await html(other.browser, '/settings/apis'), /owned\.example\.com/);
    for (const path of [`/settings/apis/${api.id}`, `/settings/apis/${api.id}/delete`]) {
      const res = await other.browser.get(path);
      assert.equal(res.status, 404, path);
      assert.match(await res.text(), /Page not found/);
    }
    const edit = await post(other.browser, '/settings/apis', `/settings/apis/${api.id}`, {
      name: 'Taken',
      scopes: '',
      access_token_format: 'opaque',
      access_token_ttl: '60',
    });
    assert.equal(edit.status, 404);
    const remove = await post(other.browser, '/settings/apis', `/settings/apis/${api.id}/delete`, {});
    assert.equal(remove.status, 404);
    assert.deepEqual(await apisOf(owner.userId), [api], 'nothing changed');
  });

  it('bad input is explained beside its field, keeps what was typed and writes nothing', async () => {
    const { browser, userId } = await signedIn();
    const cases: { fields: Partial<typeof ORDERS>; field: string; message: RegExp }[] = [
      { fields: { name: '' }, field: 'name', message: /Give the API a name/ },
      {
        fields: { identifier: 'http://orders.example.com' },
        field: 'identifier',
        message: /Identifier: must use https/,
      },
      { fields: { identifier: 'not a url' }, field: 'identifier', message: /Identifier: is not an absolute URL/ },
      {
        fields: { scopes: 'read:orders: Read\nopenid: Sign in' },
        field: 'scopes',
        message: /Scopes, line 2: the name/,
      },
      { fields: { scopes: 'read:orders: Read\n\nread:orders: Again' }, field: 'scopes', message: /line 3.*twice/ },
      { fields: { scopes: 'read:orders' }, field: 'scopes', message: /Scopes, line 1: the description is required/ },
      { fields: { access_token_ttl: '5' }, field: 'access_token_ttl', message: /lifetime: a whole number of seconds/ },
      {
        fields: { access_token_ttl: 'soon' },
        field: 'access_token_ttl',
        message: /lifetime: a whole number of seconds/,
      },
      {
        fields: { access_token_format: 'paseto' },
        field: 'access_token_format',
        message: /format: choose Opaque or JWT/,
      },
    ];
    for (const { fields, field, message } of cases) {
      const typed = { ...ORDERS, ...fields };
      const res = await post(browser, '/settings/apis/new', '/settings/apis', typed);
      const page = await res.text();
      assert.equal(res.status, 400, JSON.stringify(fields));
      const shown = new RegExp(`<p id="${field}-error" class="error-text" role="alert">([^<]*)</p>`).exec(page)?.[1];
      assert.match(shown ?? '', message, `${JSON.stringify(fields)}: ${shown}`);
      if (field !== 'access_token_format') {
        assert.match(page, new RegExp(`aria-describedby="[^"]*${field}-error"`), 'the field points to its error');
      }
      if (typed.name) assert.match(page, new RegExp(`value="${typed.name}"`), 'what was typed is kept');
    }
    assert.deepEqual(await apisOf(userId), []);

    // A taken identifier (the built-in API's included) is a conflict, shown beside the identifier.
    const taken = await post(browser, '/settings/apis/new', '/settings/apis', {
      ...ORDERS,
      identifier: server.built.services.apis.builtIn.identifier,
    });
    assert.equal(taken.status, 409);
    assert.match(await taken.text(), /<p id="identifier-error"[^>]*>An API with this identifier already exists/);
    assert.deepEqual(await apisOf(userId), []);
  });

  it('refuses every form without the CSRF token', async () => {
    const { browser, userId } = await signedIn();
    for (const _csrf of [undefined, 'forged']) {
      const res = await browser.postForm('/settings/apis', { ...(_csrf && { _csrf }), ...ORDERS });
      assert.equal(res.status, 403);
    }
    assert.deepEqual(await apisOf(userId), []);

    assert.equal((await post(browser, '/settings/apis/new', '/settings/apis', ORDERS)).status, 303);
    const [api] = await apisOf(userId);
    assert.ok(api);
    const edit = await browser.postForm(`/settings/apis/${api.id}`, { ...ORDERS, name: 'Renamed' });
    assert.equal(edit.status, 403);
    const remove = await browser.postForm(`/settings/apis/${api.id}/delete`, { _csrf: 'forged' });
    assert.equal(remove.status, 403);
    assert.deepEqual(await apisOf(userId), [api]);
  });
});
