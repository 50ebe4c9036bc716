import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { Browser, csrfFrom } from '../../../test/support/http.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { worldOn, type TestUser } from '../../../test/support/world.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import { SHOWN_ONCE_TTL_MS } from '../shown-once/shown-once.service.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// Post/Redirect/Get for every secret the dashboard shows once (new and rotated API keys, client
// secrets, webhook signing secrets): the form post redirects (303) to a page that shows the secret
// to this browser session exactly once. A reload, the back button, another session of the same
// account or another account sees no secret and makes no new one; nothing secret is in the URL.

const GONE = 'This secret was shown once and is no longer available';
const KEY = /value="(lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36})"/;
const CLIENT_SECRET = /id="client-secret"[^>]*value="(lkcs_[^"]+)"/;
const SIGNING_SECRET = /id="signing-secret"[^>]*value="(whsec_[^"]+)"/;

describe('secrets shown once (Post/Redirect/Get)', { timeout: 120_000 }, () => {
  let server: TestServer;
  let clock = Date.now();

  before(async () => {
    server = await startTestServer({ env: { WEBHOOK_ALLOW_PRIVATE: '1' }, now: () => clock });
  });
  after(async () => {
    await server?.dispose();
  });

  const world = () => worldOn(server);

  /** Posts a dashboard form with the CSRF token of `fromPage`; returns the raw answer. */
  async function post(browser: Browser, fromPage: string, action: string, fields: Record<string, string | string[]>) {
    const page = await (await browser.get(fromPage)).text();
    const body = new URLSearchParams({ _csrf: csrfFrom(page) });
    for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
    return browser.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }

  /** The form post that makes a secret: a 303 to where it is shown. */
  async function redirected(res: Response): Promise<string> {
    const body = await res.text();
    assert.equal(res.status, 303, `expected a redirect, got ${res.status}: ${body.slice(0, 200)}`);
    assert.doesNotMatch(body, /lk_|lkcs_|whsec_/, 'the redirect carries no secret in its body');
    return res.headers.get('location')!;
  }

  async function view(browser: Browser, location: string): Promise<{ status: number; page: string; res: Response }> {
    const res = await browser.get(location);
    return { status: res.status, page: await res.text(), res };
  }

  /** Every shown-once flow, as a person does it; each returns the redirect and how to read the secret. */
  function flows(u: TestUser) {
    const me = sessionPrincipal(u);
    const services = server.built.services;
    return {
      'new API key': async () => ({
        location: await redirected(
          await post(u.browser, '/settings/api-keys/new', '/settings/api-keys', {
            name: 'PRG key',
            scopes: 'read:users',
            expires: '30',
          }),
        ),
        pattern: KEY,
        count: async () => (await services.apiKeys.list(me)).length,
      }),
      'rotated API key': async () => {
        const key = await world().apiKey(u, ['read:users'], { name: 'to rotate' });
        const path = `/settings/api-keys/${key.id}/rotate`;
        return {
          location: await redirected(await post(u.browser, path, path, { expires: 'keep' })),
          pattern: KEY,
          count: async () => (await services.apiKeys.list(me)).length,
        };
      },
      'new application': async () => ({
        location: await redirected(
          await post(u.browser, '/settings/applications/new', '/settings/applications', {
            name: 'PRG app',
            type: 'service',
            scopes: 'read:users',
          }),
        ),
        pattern: CLIENT_SECRET,
        count: async () => (await services.applications.list(me)).length,
      }),
      'rotated application secret': async () => {
        const app = await world().app(u, { scopes: ['read:users'], type: 'service' });
        const path = `/settings/applications/${app.client_id}/secret`;
        return {
          location: await redirected(await post(u.browser, path, path, { overlap: '1h' })),
          pattern: CLIENT_SECRET,
          count: async () => (await services.applications.list(me)).length,
        };
      },
      'new webhook endpoint': async () => ({
        location: await redirected(
          await post(u.browser, '/settings/webhooks/new', '/settings/webhooks', {
            url: 'http://127.0.0.1:9/prg',
            events: '*',
          }),
        ),
        pattern: SIGNING_SECRET,
        count: async () => (await services.webhooks.list(u.id)).length,
      }),
      'rotated webhook secret': async () => {
        const endpoint = await services.webhooks.create(
          u.id,
          { url: 'http://127.0.0.1:9/rot', events: ['*'] },
          BY_SYSTEM,
        );
        const path = `/settings/webhooks/${endpoint.id}`;
        return {
          location: await redirected(await post(u.browser, path, `${path}/secret`, {})),
          pattern: SIGNING_SECRET,
          count: async () => (await services.webhooks.list(u.id)).length,
        };
      },
    };
  }

  it('each form redirects to a page that shows the secret once; a reload shows none and makes none', async () => {
    const u = await world().user({ tag: 'prg' });
    for (const [name, start] of Object.entries(flows(u))) {
      const { location, pattern, count } = await start();
      const first = await view(u.browser, location);
      assert.equal(first.status, 200, name);
      assert.equal(first.res.headers.get('cache-control'), 'no-store', name);
      const secret = pattern.exec(first.page)?.[1];
      assert.ok(secret, `${name}: the secret is on the first view`);
      assert.ok(!location.includes(secret) && !location.includes(secret.slice(-20)), `${name}: not in the URL`);
      const before = await count();

      for (const attempt of ['reload', 'back button']) {
        const again = await view(u.browser, location);
        assert.equal(again.status, 410, `${name}, ${attempt}`);
        assert.equal(again.res.headers.get('cache-control'), 'no-store');
        assert.ok(again.page.includes(GONE), `${name}, ${attempt}: says it is gone`);
        assert.doesNotMatch(again.page, pattern, `${name}, ${attempt}: no secret, old or new`);
      }
      assert.equal(await count(), before, `${name}: a reload made nothing`);
    }
  });

  it('another browser session of the same account, or another account, cannot view it', async () => {
    const owner = await world().user({ tag: 'prg-owner' });
    const secondSession = new Browser(server.url);
    const login = await (await secondSession.get('/login')).text();
    const signedIn = await secondSession.postForm('/login', {
      _csrf: csrfFrom(login),
      email: owner.email,
      password: owner.password,
    });
    assert.equal(signedIn.status, 303);
    const stranger = await world().user({ tag: 'prg-stranger' });

    for (const [name, start] of Object.entries(flows(owner))) {
      const { location, pattern } = await start();
      const other = await view(secondSession, location);
      assert.equal(other.status, 410, `${name}: the owner's other session`);
      assert.doesNotMatch(other.page, pattern);
      const foreign = await view(stranger.browser, location);
      assert.equal(foreign.status, 404, `${name}: another account is told nothing exists`);
      assert.doesNotMatch(foreign.page, pattern);
      const anonymous = await new Browser(server.url).get(location);
      assert.equal(anonymous.status, 302, `${name}: no session, sent to sign in`);
      // Their attempts took nothing: the session that made it still gets it, once.
      const mine = await view(owner.browser, location);
      assert.equal(mine.status, 200, name);
      assert.match(mine.page, pattern);
    }
  });

  it('a held secret is sealed at rest, goes with its session, and waits only a few minutes', async () => {
    const u = await world().user({ tag: 'prg-rest' });
    const { location } = await flows(u)['new API key']();
    // The database while the key waits to be shown (read before the view takes it).
    const held = await server.db.selectFrom('shown_once_secrets').selectAll().execute();
    assert.ok(held.length > 0);
    const dump = await dumpDatabase(server.db);
    const first = await view(u.browser, location);
    const key = KEY.exec(first.page)![1]!;
    assert.equal(
      dump.find((v) => v.value.includes(key.slice(16))),
      undefined,
      'while held, the key is nowhere in the database in plain text',
    );

    // Waiting too long: the held secret is gone.
    const late = await flows(u)['new webhook endpoint']();
    clock += SHOWN_ONCE_TTL_MS + 1;
    assert.equal((await view(u.browser, late.location)).status, 410);
    // ...and housekeeping removes what was never viewed.
    const stale = await flows(u)['new application']();
    clock += SHOWN_ONCE_TTL_MS + 1;
    await server.built.services.shownOnce.deleteExpired();
    assert.equal((await view(u.browser, stale.location)).status, 410);

    // Signing out deletes what the session held.
    const pending = await flows(u)['rotated webhook secret']();
    const heldFor = async () =>
      (await server.db.selectFrom('shown_once_secrets').select('subject_id').execute()).map((r) => r.subject_id);
    const endpointId = /\/settings\/webhooks\/([^/]+)\/new-secret$/.exec(pending.location)![1]!;
    assert.ok((await heldFor()).includes(endpointId));
    const page = await (await u.browser.get('/dashboard')).text();
    const out = await u.browser.postForm('/logout', { _csrf: csrfFrom(page) });
    assert.equal(out.status, 303);
    assert.ok(!(await heldFor()).includes(endpointId), 'signing out deleted it');
  });

  it('refuses to rotate without the CSRF token, and the old secrets keep working', async () => {
    const u = await world().user({ tag: 'prg-csrf' });
    const services = server.built.services;
    const app = await world().app(u, { scopes: ['read:users'], type: 'service' });
    const key = await world().apiKey(u, ['read:users']);
    const endpoint = await services.webhooks.create(u.id, { url: 'http://127.0.0.1:9/csrf', events: ['*'] }, BY_SYSTEM);
    const signingSecret = () =>
      server.db.selectFrom('webhook_endpoints').select('secret_enc').where('id', '=', endpoint.id).executeTakeFirst();
    const sealedBefore = await signingSecret();
    for (const [action, fields] of [
      [`/settings/applications/${app.client_id}/secret`, { overlap: '7d' }],
      [`/settings/api-keys/${key.id}/rotate`, { expires: '30' }],
      [`/settings/webhooks/${endpoint.id}/secret`, {}],
    ] as const) {
      for (const csrf of [undefined, 'forged']) {
        const res = await u.browser.postForm(action, { ...(csrf ? { _csrf: csrf } : {}), ...fields });
        assert.equal(res.status, 403, `${action} with ${csrf ?? 'no'} token`);
      }
    }
    assert.ok(await services.applications.authenticateClient(app.client_id, app.client_secret!));
    assert.equal((await services.apiKeys.get(sessionPrincipal(u), key.id)).replaced_by, null);
    assert.deepEqual(await signingSecret(), sealedBefore);
    const held = await server.db
      .selectFrom('shown_once_secrets')
      .select('subject_id')
      .where('subject_id', 'in', [app.client_id, key.id, endpoint.id])
      .execute();
    assert.deepEqual(held, [], 'nothing was made to be shown');
  });
});
