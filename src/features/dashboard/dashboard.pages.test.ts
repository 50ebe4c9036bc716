import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { Browser, authorize, csrfFrom, registerApp, signUp } from '../../../test/support/http.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// The dashboard pages over HTTP (the browser journeys are in e2e/dashboard.test.ts): sign-in
// required, CSRF on every form, secrets shown once and never cached or put in a URL, form errors
// shown on the form, and the key flags at the 14-day and 90-day marks (with a controlled clock).

const PASSWORD = 'correct horse battery';
const DAY = 86_400_000;

describe('dashboard pages', { timeout: 120_000 }, () => {
  let server: TestServer;
  let clock = Date.now();
  let users = 0;

  before(async () => {
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' }, now: () => clock });
  });
  after(async () => {
    await server?.dispose();
  });

  async function signedIn(): Promise<{ browser: Browser; email: string; userId: string }> {
    const browser = new Browser(server.url);
    const email = `dash${++users}@example.com`;
    await signUp(browser, email, PASSWORD);
    const account = await server.built.services.accounts.authenticate(email, PASSWORD);
    return { browser, email, userId: (account as { id: string }).id };
  }

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
    fields: Record<string, string | string[]>,
  ): Promise<Response> {
    const page = await html(browser, fromPage);
    const body = new URLSearchParams({ _csrf: csrfFrom(page) });
    for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
    return browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }

  /**
   * Posts a form that makes a secret: the answer is a 303 to the page that shows it (nothing
   * secret in the URL), and that page, fetched once, is returned.
   */
  async function postShown(
    browser: Browser,
    fromPage: string,
    action: string,
    fields: Record<string, string | string[]>,
  ): Promise<{ page: string; location: string; res: Response }> {
    const posted = await post(browser, fromPage, action, fields);
    assert.equal(posted.status, 303, `POST ${action}`);
    const location = posted.headers.get('location')!;
    const res = await browser.get(location);
    assert.equal(res.status, 200, `GET ${location}`);
    return { page: await res.text(), location, res };
  }

  const bearer = (token: string) =>
    fetch(`${server.url}/v2/auth/test`, { headers: { authorization: `Bearer ${token}` } });
  const keyIn = (page: string) => /value="(lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36})"/.exec(page)?.[1];

  it('every page needs a signed-in browser and comes back after sign-in', async () => {
    const anonymous = new Browser(server.url);
    for (const path of [
      '/dashboard',
      '/settings/api-keys',
      '/settings/api-keys/new',
      '/settings/applications',
      '/settings/authorized-apps',
      '/settings/webhooks',
      '/settings/webhooks/new?x=1',
    ]) {
      const res = await anonymous.get(path);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get('location'), `/login?return_to=${encodeURIComponent(path)}`);
    }
    // A form post without a session is not performed (and never re-posted after sign-in).
    const page = await (await anonymous.get('/login')).text();
    const res = await anonymous.postForm('/settings/api-keys', {
      _csrf: csrfFrom(page),
      name: 'x',
      scopes: 'read:users',
    });
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location')!, /^\/login\?return_to=/);
  });

  it('pages share the navigation, mark the current section and carry the CSRF token', async () => {
    const { browser } = await signedIn();
    const page = await html(browser, '/settings/webhooks');
    for (const [href, label] of [
      ['/dashboard', 'Dashboard'],
      ['/settings/api-keys', 'API Keys'],
      ['/settings/applications', 'Applications'],
      ['/settings/apis', 'APIs'],
      ['/settings/authorized-apps', 'Authorized apps'],
      ['/settings/webhooks', 'Webhooks'],
      ['/settings/security', 'Security'],
    ]) {
      assert.ok(page.includes(`href="${href}"`) && page.includes(`>${label}</a>`), label);
    }
    assert.match(page, /<a href="\/settings\/webhooks" aria-current="page">Webhooks<\/a>/);
    assert.ok(csrfFrom(page));
    const overview = await html(browser, '/dashboard');
    assert.match(overview, /<h1>Dashboard<\/h1>/);
    assert.ok(overview.includes(`${server.config.ISSUER}/v2/auth/test`), 'the curl example names this server');
    assert.ok(overview.includes('Enable two-factor authentication on your account for additional API key security.'));
  });

  it('welcomes a new account on its first sign-in, and welcomes it back after the next', async () => {
    const { browser, email } = await signedIn();
    const first = await html(browser, '/dashboard');
    assert.match(first, /Welcome to your new account\./);
    assert.doesNotMatch(first, /Welcome back/);

    const again = new Browser(server.url);
    const login = await html(again, '/login');
    const res = await again.postForm('/login', { _csrf: csrfFrom(login), email, password: PASSWORD });
    assert.equal(res.status, 303);
    const second = await html(again, '/dashboard');
    assert.match(second, /Welcome back\./);
    assert.doesNotMatch(second, /new account/);
  });

  it('refuses a form without the CSRF token', async () => {
    const { browser, userId } = await signedIn();
    const res = await browser.postForm('/settings/api-keys', { name: 'x', scopes: 'read:users', expires: 'never' });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /This form has expired/);
    const forged = await browser.postForm('/settings/api-keys', {
      _csrf: 'forged',
      name: 'x',
      scopes: 'read:users',
      expires: 'never',
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(await server.built.services.apiKeys.list(sessionPrincipal({ id: userId, isAdmin: false })), []);
  });

  it('shows a new key once: on the page the POST redirects to, not cached, not in a URL, never again', async () => {
    const { browser } = await signedIn();
    const { page, location, res } = await postShown(browser, '/settings/api-keys/new', '/settings/api-keys', {
      name: 'Nightly <export>',
      scopes: ['read:users', 'read:projects'],
      expires: '60',
      allowed_ips: '127.0.0.1\n::1',
    });
    assert.match(location, /^\/settings\/api-keys\/[0-9A-Za-z]{12}\/new-key$/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.ok(
      page.includes('API keys are shown only once. Store them securely and never expose them in client-side code.'),
    );
    assert.ok(page.includes('Nightly &lt;export&gt;'), 'names are escaped');
    const key = keyIn(page)!;
    assert.ok(key);
    assert.equal(page.split(key).length - 1, 1, 'the key appears exactly once in the page');
    assert.ok(!location.includes(key.slice(15)), 'nothing secret in the URL');
    const reloaded = await browser.get(location);
    assert.equal(reloaded.status, 410, 'a reload shows the key no more');
    assert.ok(!keyIn(await reloaded.text()));

    const test = await bearer(key);
    assert.equal(test.status, 200);
    const body = (await test.json()) as { scopes: string[]; expires_at: string };
    assert.deepEqual(body.scopes.sort(), ['read:projects', 'read:users']);
    assert.ok(Math.abs(Date.parse(body.expires_at) - clock - 60 * DAY) < 60_000);

    const list = await html(browser, '/settings/api-keys');
    assert.ok(!list.includes(key));
    assert.ok(list.includes(key.slice(0, 16)), 'the prefix is listed');
    const id = key.slice(3, 15);
    const detail = await html(browser, `/settings/api-keys/${id}`);
    assert.ok(!detail.includes(key));
    assert.ok(detail.includes('127.0.0.1, ::1'));
    assert.match(detail, /<svg class="chart"/);
    assert.equal((detail.match(/class="chart-(bar|empty)"/g) ?? []).length, 30);
    assert.ok(detail.includes('/v2/auth/test'), 'the request is in the log');
  });

  it('keeps the form and explains what is wrong', async () => {
    const { browser } = await signedIn();
    const cases: Array<[Record<string, string | string[]>, number, RegExp]> = [
      [{ name: '', scopes: 'read:users', expires: 'never' }, 400, /Give the key a name/],
      [{ name: 'No scopes', expires: 'never' }, 400, /Choose at least one permission/],
      [
        { name: 'Bad date', scopes: 'read:users', expires: 'date', expires_date: '2001-01-01' },
        400,
        /must be in the future/,
      ],
      [
        { name: 'Bad ip', scopes: 'read:users', expires: 'never', allowed_ips: '10.0.0.0/8\nnot-an-ip' },
        400,
        /IP allowlist, line 2: each entry must be an IPv4\/IPv6 address or CIDR/,
      ],
      [
        { name: 'Too strong', scopes: 'admin:all', expires: 'never' },
        403,
        /cannot carry scopes its creator does not hold: admin:all/,
      ],
    ];
    for (const [fields, status, message] of cases) {
      const res = await post(browser, '/settings/api-keys/new', '/settings/api-keys', fields);
      assert.equal(res.status, status, JSON.stringify(fields));
      const page = await res.text();
      assert.match(page, message);
      assert.match(page, /role="alert"/);
      assert.ok(!keyIn(page));
      if (fields['name']) assert.ok(page.includes(`value="${fields['name']}"`), 'the name is kept');
    }
  });

  it('an IP allowlist from the form is enforced', async () => {
    const { browser } = await signedIn();
    const { page } = await postShown(browser, '/settings/api-keys/new', '/settings/api-keys', {
      name: 'Office only',
      scopes: 'read:users',
      expires: 'never',
      allowed_ips: '203.0.113.0/24',
    });
    assert.equal((await bearer(keyIn(page)!)).status, 403);
  });

  it('rotates (both keys work during the grace period) and revokes after a confirmation page', async () => {
    const { browser } = await signedIn();
    const created = keyIn(
      (
        await postShown(browser, '/settings/api-keys/new', '/settings/api-keys', {
          name: 'Rotating',
          scopes: 'read:users',
          expires: 'never',
        })
      ).page,
    )!;
    const id = created.slice(3, 15);
    assert.match(await html(browser, `/settings/api-keys/${id}`), /href="\/settings\/api-keys\/[^"]+\/rotate"/);
    const rotated = await postShown(browser, `/settings/api-keys/${id}/rotate`, `/settings/api-keys/${id}/rotate`, {
      expires: 'keep',
    });
    assert.equal(rotated.res.headers.get('cache-control'), 'no-store');
    const page = rotated.page;
    const fresh = keyIn(page)!;
    assert.ok(fresh && fresh !== created);
    assert.match(page, /keeps working until/);
    assert.equal((await bearer(created)).status, 200);
    assert.equal((await bearer(fresh)).status, 200);
    assert.equal(
      (await post(browser, '/settings/api-keys', `/settings/api-keys/${id}/rotate`, {})).status,
      409,
      'a key rotates once',
    );

    const newId = fresh.slice(3, 15);
    const confirm = await html(browser, `/settings/api-keys/${newId}/revoke`);
    assert.match(confirm, /Revoke the API key “Rotating”\?/);
    const revoked = await post(browser, `/settings/api-keys/${newId}/revoke`, `/settings/api-keys/${newId}/revoke`, {});
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.get('location'), '/settings/api-keys?done=key-revoked');
    assert.equal((await bearer(fresh)).status, 401);
    const list = await html(browser, '/settings/api-keys?done=key-revoked');
    assert.match(list, /The API key was revoked/);
    assert.match(list, /Revoked, expired and replaced keys/);
  });

  it('flags keys that expire within 14 days and keys older than 90 days', async () => {
    const { browser, userId } = await signedIn();
    const apiKeys = server.built.services.apiKeys;
    const now = clock;
    try {
      clock = now - 100 * DAY;
      await apiKeys.create(
        sessionPrincipal({ id: userId, isAdmin: false }),
        {
          name: 'Ancient',
          scopes: ['read:users'],
        },
        BY_SYSTEM,
      );
      clock = now - 20 * DAY;
      await apiKeys.create(
        sessionPrincipal({ id: userId, isAdmin: false }),
        {
          name: 'Soon',
          scopes: ['read:users'],
          expires_at: new Date(now + 5 * DAY).toISOString(),
        },
        BY_SYSTEM,
      );
    } finally {
      clock = now;
    }
    await apiKeys.create(
      sessionPrincipal({ id: userId, isAdmin: false }),
      {
        name: 'Fine',
        scopes: ['read:users'],
        expires_at: new Date(now + 60 * DAY).toISOString(),
      },
      BY_SYSTEM,
    );
    const list = await html(browser, '/settings/api-keys');
    assert.match(list, /2 keys need attention/);
    assert.match(list, /Rotate: older than 90 days/);
    assert.match(list, /Expires in 5 days/);
    assert.equal((list.match(/class="badge warn"/g) ?? []).length, 2);
    const overview = await html(browser, '/dashboard');
    assert.match(overview, /2 need attention/);
  });

  it("another account's key, application or endpoint is not found", async () => {
    const owner = await signedIn();
    const key = keyIn(
      (
        await postShown(owner.browser, '/settings/api-keys/new', '/settings/api-keys', {
          name: 'Mine',
          scopes: 'read:users',
          expires: 'never',
        })
      ).page,
    )!;
    const other = await signedIn();
    const res = await other.browser.get(`/settings/api-keys/${key.slice(3, 15)}`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /Page not found/);
    const revoke = await post(other.browser, '/settings/api-keys', `/settings/api-keys/${key.slice(3, 15)}/revoke`, {});
    assert.equal(revoke.status, 404);
    assert.equal((await bearer(key)).status, 200);

    const app = await registerApp(owner.browser, {
      name: 'Owned',
      redirect_uris: ['https://owned.example/cb'],
      scopes: ['read:users'],
    });
    assert.equal((await other.browser.get(`/settings/applications/${app.client_id}`)).status, 404);
    assert.equal(
      (await post(other.browser, '/settings/applications', `/settings/applications/${app.client_id}/delete`, {}))
        .status,
      404,
    );
    const added = await postShown(owner.browser, '/settings/webhooks/new', '/settings/webhooks', {
      url: 'http://127.0.0.1:9/x',
      events: '*',
    });
    const endpoint = /href="\/settings\/webhooks\/(whk_[^"]+)"/.exec(added.page)![1]!;
    assert.equal((await other.browser.get(`/settings/webhooks/${endpoint}`)).status, 404);
    assert.equal(
      (await post(other.browser, '/settings/webhooks', `/settings/webhooks/${endpoint}/secret`, {})).status,
      404,
    );
  });

  it('applications: register (secret once), validation, edit, rotate, public clients, delete', async () => {
    const { browser } = await signedIn();
    const blank = await html(browser, '/settings/applications/new');
    assert.match(blank, /id="require_pkce"[^>]*checked/, 'a new application starts with PKCE required');
    const bad = await post(browser, '/settings/applications/new', '/settings/applications', {
      name: 'Bad',
      type: 'web',
      redirect_uris: 'http://example.com/cb',
      scopes: 'read:users',
    });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Redirect URIs, line 1: must use https/);

    const { page, res } = await postShown(browser, '/settings/applications/new', '/settings/applications', {
      name: 'Reports',
      type: 'web',
      redirect_uris: 'https://reports.example/cb\n\nhttps://reports.example/cb2',
      scopes: ['read:users', 'write:projects'],
    });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const clientId = /id="client-id"[^>]*value="(app_[^"]+)"/.exec(page)![1]!;
    const secret = /id="client-secret"[^>]*value="(lkcs_[^"]+)"/.exec(page)![1]!;
    assert.ok(page.includes('Client secrets are shown only once.'));
    const app = await server.built.services.applications.authenticateClient(clientId, secret);
    assert.equal(app?.client_id, clientId);

    const detail = await html(browser, `/settings/applications/${clientId}`);
    assert.ok(!detail.includes(secret));
    assert.ok(detail.includes('https://reports.example/cb\nhttps://reports.example/cb2'));

    const saved = await post(browser, `/settings/applications/${clientId}`, `/settings/applications/${clientId}`, {
      name: 'Reports 2',
      redirect_uris: 'https://reports.example/only',
      scopes: 'read:users',
    });
    assert.equal(saved.status, 303);
    const after = await html(browser, saved.headers.get('location')!);
    assert.match(after, /Application saved/);
    assert.match(after, /<h1>Reports 2<\/h1>/);
    const badEdit = await post(browser, `/settings/applications/${clientId}`, `/settings/applications/${clientId}`, {
      name: 'Reports 2',
      redirect_uris: 'https://x.example/#frag',
      scopes: 'read:users',
    });
    assert.equal(badEdit.status, 400);
    assert.match(await badEdit.text(), /must not contain a fragment/);

    const rotated = await postShown(
      browser,
      `/settings/applications/${clientId}/secret`,
      `/settings/applications/${clientId}/secret`,
      { overlap: 'none' },
    );
    const newSecret = /id="client-secret"[^>]*value="(lkcs_[^"]+)"/.exec(rotated.page)![1]!;
    assert.notEqual(newSecret, secret);
    assert.equal(await server.built.services.applications.authenticateClient(clientId, secret), null);

    const { page: spaPage, location: spaLocation } = await postShown(
      browser,
      '/settings/applications/new',
      '/settings/applications',
      { name: 'Widget', type: 'spa', redirect_uris: 'https://widget.example/cb', scopes: 'read:users' },
    );
    assert.match(spaLocation, /\/registered$/, 'a public client has no secret to show once');
    assert.ok(!spaPage.includes('id="client-secret"'));
    assert.match(spaPage, /public client/);

    assert.match(
      await html(browser, `/settings/applications/${clientId}/delete`),
      /Delete the application “Reports 2”\?/,
    );
    const deleted = await post(
      browser,
      `/settings/applications/${clientId}/delete`,
      `/settings/applications/${clientId}/delete`,
      {},
    );
    assert.equal(deleted.status, 303);
    assert.equal((await browser.get(`/settings/applications/${clientId}`)).status, 404);
  });

  it('authorized apps: lists the grant with its scopes, and Revoke takes it back', async () => {
    const developer = await signedIn();
    const app = await registerApp(developer.browser, {
      name: 'Grant Checker',
      redirect_uris: ['https://grant.example/cb'],
      scopes: ['read:users', 'read:projects'],
    });
    const user = await signedIn();
    const { redirect } = await authorize(user.browser, {
      clientId: app.client_id,
      redirectUri: 'https://grant.example/cb',
      scope: 'read:users',
      email: user.email,
      password: PASSWORD,
    });
    assert.ok(redirect.searchParams.get('code'));
    const list = await html(user.browser, '/settings/authorized-apps');
    assert.match(list, /Grant Checker/);
    assert.match(list, /Read user information/);
    const res = await post(
      user.browser,
      '/settings/authorized-apps',
      `/settings/authorized-apps/${app.client_id}/revoke`,
      {},
    );
    assert.equal(res.status, 303);
    const after = await html(user.browser, res.headers.get('location')!);
    assert.match(after, /Access revoked/);
    assert.doesNotMatch(after, /Grant Checker/);
    assert.match(after, /No authorized apps/);
  });

  it('webhooks: add (secret once), validation, edit, disable and enable, rotate, delete', async () => {
    const { browser } = await signedIn();
    const noEvents = await post(browser, '/settings/webhooks/new', '/settings/webhooks', {
      url: 'http://127.0.0.1:9/hook',
    });
    assert.equal(noEvents.status, 400);
    assert.match(await noEvents.text(), /Choose at least one event/);
    const badUrl = await post(browser, '/settings/webhooks/new', '/settings/webhooks', {
      url: 'not a url',
      events: '*',
    });
    assert.equal(badUrl.status, 400);
    assert.match(await badUrl.text(), /Endpoint URL: must be an absolute URL/);

    const { page, res } = await postShown(browser, '/settings/webhooks/new', '/settings/webhooks', {
      url: 'http://127.0.0.1:9/hook',
      events: ['api_key.created', 'consent.revoked'],
      description: 'Audit',
    });
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const secret = /id="signing-secret"[^>]*value="(whsec_[^"]+)"/.exec(page)![1]!;
    const id = /href="\/settings\/webhooks\/(whk_[^"]+)"/.exec(page)![1]!;
    const detail = await html(browser, `/settings/webhooks/${id}`);
    assert.ok(!detail.includes(secret));
    assert.match(detail, /No deliveries yet/);

    const saved = await post(browser, `/settings/webhooks/${id}`, `/settings/webhooks/${id}`, {
      url: 'http://127.0.0.1:9/other',
      events: '*',
      description: '',
    });
    assert.equal(saved.status, 303);
    assert.match(await html(browser, `/settings/webhooks/${id}`), /All events/);

    assert.equal(saved.headers.get('location'), `/settings/webhooks/${id}?done=webhook-updated`);
    assert.match(await html(browser, saved.headers.get('location')!), /Webhook endpoint saved\./);

    // Disabling and enabling say so (not "saved"), on the page the redirect lands on.
    const disabled = await post(browser, `/settings/webhooks/${id}`, `/settings/webhooks/${id}/status`, {
      status: 'disabled',
    });
    assert.equal(disabled.status, 303);
    const disabledPage = await html(browser, disabled.headers.get('location')!);
    assert.match(disabledPage, /This endpoint is disabled/);
    assert.match(
      disabledPage,
      /<p>Webhook endpoint disabled\. No events are delivered to it until you enable it again\.<\/p>/,
    );
    assert.doesNotMatch(disabledPage, /Webhook endpoint saved/);
    const enabled = await post(browser, `/settings/webhooks/${id}`, `/settings/webhooks/${id}/status`, {
      status: 'active',
    });
    assert.equal(enabled.status, 303);
    const enabledPage = await html(browser, enabled.headers.get('location')!);
    assert.doesNotMatch(enabledPage, /This endpoint is disabled/);
    assert.match(enabledPage, /<p>Webhook endpoint enabled\./);
    assert.doesNotMatch(enabledPage, /Webhook endpoint saved/);

    const rotated = await postShown(browser, `/settings/webhooks/${id}`, `/settings/webhooks/${id}/secret`, {});
    const newSecret = /id="signing-secret"[^>]*value="(whsec_[^"]+)"/.exec(rotated.page)![1]!;
    assert.notEqual(newSecret, secret);

    const deleted = await post(browser, `/settings/webhooks/${id}/delete`, `/settings/webhooks/${id}/delete`, {});
    assert.equal(deleted.status, 303);
    assert.match(await html(browser, '/settings/webhooks?done=webhook-deleted'), /No webhook endpoints/);
  });
});
