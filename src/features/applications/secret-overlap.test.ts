import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { csrfFrom } from '../../../test/support/http.ts';
import { expectApiError } from '../../../test/support/api.ts';
import { dumpDatabase } from '../../../test/support/db-dump.ts';
import { request, worldOn, type RegisteredApp, type TestUser } from '../../../test/support/world.ts';

// Rotating an application's client secret with an overlap: during it the old and the new secret
// both authenticate at the token, introspection and revocation endpoints; at the instant it ends
// the old one is invalid_client. A second rotation ends a running overlap (two secrets at most).
// The dashboard asks first (a confirmation page with the overlap choice); the REST route takes
// `overlap_seconds` and answers as before, plus when the old secret stops.

const HOUR = 3_600_000;

describe('client secret rotation with an overlap', { timeout: 120_000 }, () => {
  let server: TestServer;
  let clock = Date.now();

  before(async () => {
    server = await startTestServer({ now: () => clock });
  });
  after(async () => {
    await server?.dispose();
  });

  const world = () => worldOn(server);
  const basic = (clientId: string, secret: string) =>
    `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

  /** client_credentials at the token endpoint with this secret (HTTP Basic): the status and error. */
  async function tokenWith(clientId: string, secret: string): Promise<{ status: number; error?: string }> {
    const res = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basic(clientId, secret) },
    });
    return { status: res.status, ...(res.status === 200 ? {} : { error: String(res.body['error']) }) };
  }

  async function introspectWith(clientId: string, secret: string, token: string): Promise<number> {
    const res = await request(server, 'POST', '/oauth/introspect', {
      body: { token },
      headers: { Authorization: basic(clientId, secret) },
    });
    return res.status;
  }

  async function revokeWith(clientId: string, secret: string, token: string): Promise<number> {
    const res = await request(server, 'POST', '/oauth/revoke', {
      body: { token },
      headers: { Authorization: basic(clientId, secret) },
    });
    return res.status;
  }

  /** Rotates through the REST route as the signed-in owner; the documented answer. */
  async function rotate(owner: TestUser, app: RegisteredApp, body?: unknown) {
    const res = await request(owner.browser, 'POST', `/oauth/applications/${app.client_id}/secret`, {
      ...(body === undefined ? {} : { body }),
      headers: { origin: server.url },
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return res.body as { client_secret: string; previous_secret_expires_at: string | null; client_id: string };
  }

  it('both secrets work at the token, introspection and revocation endpoints until the overlap ends', async () => {
    const owner = await world().user({ tag: 'overlap' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    const old = app.client_secret!;
    const rotated = await rotate(owner, app, { overlap_seconds: 3600 });
    assert.equal(rotated.previous_secret_expires_at, new Date(clock + HOUR).toISOString());
    const fresh = rotated.client_secret;
    assert.notEqual(fresh, old);

    for (const secret of [old, fresh]) {
      assert.equal((await tokenWith(app.client_id, secret)).status, 200);
    }
    const issued = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basic(app.client_id, fresh) },
    });
    const accessToken = String(issued.body['access_token']);
    assert.equal(await introspectWith(app.client_id, old, accessToken), 200);
    assert.equal(await introspectWith(app.client_id, fresh, accessToken), 200);

    // One millisecond before the end: still good. At the end: invalid_client, the new one still works.
    clock += HOUR - 1;
    assert.equal((await tokenWith(app.client_id, old)).status, 200);
    clock += 1;
    assert.deepEqual(await tokenWith(app.client_id, old), { status: 401, error: 'invalid_client' });
    assert.equal(await introspectWith(app.client_id, old, accessToken), 401);
    assert.equal(await revokeWith(app.client_id, old, accessToken), 401);
    assert.equal((await tokenWith(app.client_id, fresh)).status, 200);
    assert.equal(await revokeWith(app.client_id, fresh, accessToken), 200);
  });

  it('revocation accepts the old secret during the overlap', async () => {
    const owner = await world().user({ tag: 'overlap-revoke' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    const issued = await request(server, 'POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', scope: 'read:users' },
      headers: { Authorization: basic(app.client_id, app.client_secret!) },
    });
    await rotate(owner, app, { overlap_seconds: 60 });
    assert.equal(await revokeWith(app.client_id, app.client_secret!, String(issued.body['access_token'])), 200);
  });

  it('without an overlap (the default) the old secret stops at once', async () => {
    const owner = await world().user({ tag: 'overlap-none' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    const rotated = await rotate(owner, app);
    assert.equal(rotated.previous_secret_expires_at, null);
    assert.deepEqual(await tokenWith(app.client_id, app.client_secret!), { status: 401, error: 'invalid_client' });
    assert.equal((await tokenWith(app.client_id, rotated.client_secret)).status, 200);
    const zero = await rotate(owner, app, { overlap_seconds: 0 });
    assert.equal(zero.previous_secret_expires_at, null);
    assert.equal((await tokenWith(app.client_id, rotated.client_secret)).status, 401);
  });

  it('a second rotation during an overlap ends the first: two secrets at most', async () => {
    const owner = await world().user({ tag: 'overlap-twice' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    const first = app.client_secret!;
    const second = (await rotate(owner, app, { overlap_seconds: 86_400 })).client_secret;
    const third = (await rotate(owner, app, { overlap_seconds: 3600 })).client_secret;
    assert.deepEqual(await tokenWith(app.client_id, first), { status: 401, error: 'invalid_client' });
    assert.equal((await tokenWith(app.client_id, second)).status, 200);
    assert.equal((await tokenWith(app.client_id, third)).status, 200);
    // The old secret is stored as the current one is: a SHA-256 hash, never the secret itself.
    const row = await server.db
      .selectFrom('applications')
      .select(['previous_secret_hash', 'secret_hash'])
      .where('client_id', '=', app.client_id)
      .executeTakeFirstOrThrow();
    assert.equal(row.previous_secret_hash, crypto.createHash('sha256').update(second).digest('hex'));
    const dump = await dumpDatabase(server.db);
    for (const secret of [first, second, third]) {
      assert.equal(
        dump.find((v) => v.value.includes(secret.slice(5))),
        undefined,
        'no secret in plain text',
      );
    }
  });

  it('refuses an overlap longer than 7 days, or not a whole number of seconds, naming the field', async () => {
    const owner = await world().user({ tag: 'overlap-bad' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    for (const overlap of [604_801, -1, 1.5, '3600']) {
      const res = await request(owner.browser, 'POST', `/oauth/applications/${app.client_id}/secret`, {
        body: { overlap_seconds: overlap },
        headers: { origin: server.url },
      });
      await expectApiError(res, 400, 'VALIDATION_FAILED', { field: 'overlap_seconds' });
    }
    assert.equal((await tokenWith(app.client_id, app.client_secret!)).status, 200, 'nothing was rotated');
    const week = await rotate(owner, app, { overlap_seconds: 604_800 });
    assert.equal(week.previous_secret_expires_at, new Date(clock + 7 * 24 * HOUR).toISOString());
  });

  it('the OpenAPI document describes the optional overlap', async () => {
    const doc = (await request(server, 'GET', '/v2/openapi.json')).body as {
      paths: Record<string, Record<string, { requestBody?: { required: boolean; content: unknown } }>>;
    };
    const op = doc.paths['/oauth/applications/{clientId}/secret']!['post']!;
    assert.equal(op.requestBody?.required, false);
    assert.match(JSON.stringify(op.requestBody?.content), /"overlap_seconds":\{[^}]*"maximum":604800/);
  });

  it('dashboard: a confirmation page first, then the chosen overlap', async () => {
    const owner = await world().user({ tag: 'overlap-page' });
    const app = await world().app(owner, { scopes: ['read:users'], type: 'service' });
    const detail = await (await owner.browser.get(`/settings/applications/${app.client_id}`)).text();
    assert.match(detail, new RegExp(`<a class="button" href="/settings/applications/${app.client_id}/secret">`));
    const confirm = await owner.browser.get(`/settings/applications/${app.client_id}/secret`);
    assert.equal(confirm.status, 200);
    const page = await confirm.text();
    assert.match(page, /Rotate the client secret of “Test Application”\?/);
    assert.match(page, /What stops working/);
    for (const label of ['None: it stops now', '1 hour', '24 hours', '7 days']) assert.ok(page.includes(label), label);
    assert.match(page, /value="none"\s+id="overlap-none" checked/, 'no overlap unless chosen');
    assert.ok(
      await server.built.services.applications.authenticateClient(app.client_id, app.client_secret!),
      'looking at the page rotated nothing',
    );

    const posted = await owner.browser.postForm(`/settings/applications/${app.client_id}/secret`, {
      _csrf: csrfFrom(page),
      overlap: '24h',
    });
    assert.equal(posted.status, 303);
    const shown = await (await owner.browser.get(posted.headers.get('location')!)).text();
    const fresh = /id="client-secret"[^>]*value="(lkcs_[^"]+)"/.exec(shown)![1]!;
    assert.match(shown, /The previous secret keeps working until/);
    assert.equal((await tokenWith(app.client_id, app.client_secret!)).status, 200);
    assert.equal((await tokenWith(app.client_id, fresh)).status, 200);

    // The application's page says an overlap runs, and the next confirmation warns it would end.
    assert.match(
      await (await owner.browser.get(`/settings/applications/${app.client_id}`)).text(),
      /still works until/,
    );
    const again = await (await owner.browser.get(`/settings/applications/${app.client_id}/secret`)).text();
    assert.match(again, /Rotating again ends that at once/);
    clock += 24 * HOUR;
    assert.equal((await tokenWith(app.client_id, app.client_secret!)).status, 401);
  });
});

// The application's row and its client metadata stay cached (CREDENTIAL_CACHE_TTL) across the
// overlap's end: the previous secret must stop at that instant all the same.
describe('client secret overlap ending while the application is cached', { timeout: 120_000 }, () => {
  let server: TestServer;
  let clock = Date.now();

  before(async () => {
    server = await startTestServer({ now: () => clock, env: { CREDENTIAL_CACHE_TTL: '300' } });
  });
  after(async () => {
    await server?.dispose();
  });

  const tokenStatus = async (clientId: string, secret: string) =>
    (
      await request(server, 'POST', '/oauth/token', {
        body: { grant_type: 'client_credentials', scope: 'read:users' },
        headers: { Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
      })
    ).status;

  it('the old secret is refused at the instant the overlap ends, the new one still works', async () => {
    const owner = await worldOn(server).user({ tag: 'overlap-cached' });
    const app = await worldOn(server).app(owner, { scopes: ['read:users'], type: 'service' });
    const rotated = await request(owner.browser, 'POST', `/oauth/applications/${app.client_id}/secret`, {
      body: { overlap_seconds: 60 },
      headers: { origin: server.url },
    });
    assert.equal(rotated.status, 200);
    const fresh = String(rotated.body['client_secret']);
    assert.equal(await tokenStatus(app.client_id, app.client_secret!), 200);
    clock += 60_000 - 1;
    assert.equal(await tokenStatus(app.client_id, app.client_secret!), 200);
    clock += 1;
    assert.equal(await tokenStatus(app.client_id, app.client_secret!), 401);
    assert.equal(await tokenStatus(app.client_id, fresh), 200);
  });
});
