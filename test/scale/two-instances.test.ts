import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../support/server.ts';
import { createTestDatabase, testBackend } from '../support/database.ts';
import { request, worldOn, credentialServerEnv } from '../support/world.ts';
import { Browser, authorize, registerApp, signUp } from '../support/http.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';

// Two instances on one database behave as one. Both claim the same ISSUER, as two
// processes behind one load balancer would.
describe(`two instances on one ${testBackend} database`, () => {
  let a: TestServer;
  let b: TestServer;
  let receiver: WebhookReceiver;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-two-'));

  before(async () => {
    const database = await createTestDatabase(dir);
    const env = { ...credentialServerEnv, WEBHOOK_ALLOW_PRIVATE: '1', RATE_LIMIT_JWT: '1000,3' };
    a = await startTestServer({ dir, database, env, webhookPollMs: 20, sharedRateLimits: true });
    b = await startTestServer({
      dir,
      database,
      env: { ...env, ISSUER: a.config.ISSUER },
      webhookPollMs: 20,
      sharedRateLimits: true,
    });
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await receiver.close();
    await b.close(); // close both before the shared database is dropped
    await a.dispose();
  });

  it('share signing keys and cookie keys: same JWKS, and a dashboard session from one works on the other', async () => {
    const jwks = async (s: TestServer) => (await fetch(`${s.url}/oauth/jwks`)).json();
    assert.deepEqual(await jwks(a), await jwks(b));
    const browser = new Browser(a.url);
    await signUp(browser, 'shared@example.com', 'shared passphrase');
    const onB = await fetch(`${b.url}/settings/security`, {
      headers: { cookie: browser.jar.header() },
      redirect: 'manual',
    });
    assert.equal(onB.status, 200);
  });

  it(
    'a token issued by one introspects and refreshes on the other; ' +
      'consent given on one is remembered on the other',
    async () => {
      const dev = new Browser(a.url);
      await signUp(dev, 'dev-two@example.com', 'dev passphrase');
      const app = await registerApp(dev, {
        name: 'Two',
        redirect_uris: ['https://two.example/cb'],
        scopes: ['read:users'],
      });
      const person = new Browser(a.url);
      await signUp(person, 'person-two@example.com', 'person passphrase');
      person.jar.clear();
      const first = await authorize(person, {
        clientId: app.client_id,
        redirectUri: 'https://two.example/cb',
        scope: 'read:users',
        email: 'person-two@example.com',
        password: 'person passphrase',
      });
      assert.equal(first.sawConsent, true);
      const basic = `Basic ${Buffer.from(`${app.client_id}:${app.client_secret}`).toString('base64')}`;
      const tokenRes = await fetch(`${a.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: first.redirect.searchParams.get('code')!,
          redirect_uri: 'https://two.example/cb',
        }),
      });
      const tokens = (await tokenRes.json()) as { access_token: string; refresh_token: string };
      const introspected = await fetch(`${b.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
        body: new URLSearchParams({ token: tokens.access_token }),
      });
      assert.equal(((await introspected.json()) as { active: boolean }).active, true);
      assert.equal((await request(b, 'GET', '/v2/auth/test', { bearer: tokens.access_token })).status, 200);
      const refreshed = await fetch(`${b.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
      });
      assert.equal(refreshed.status, 200);

      // A fresh browser on the other instance: sign in again, but no consent page.
      const elsewhere = new Browser(b.url);
      const second = await authorize(elsewhere, {
        clientId: app.client_id,
        redirectUri: 'https://two.example/cb',
        scope: 'read:users',
        email: 'person-two@example.com',
        password: 'person passphrase',
      });
      assert.equal(second.sawLogin, true);
      assert.equal(second.sawConsent, false);
      // Both answer for one ISSUER (a's URL, as behind one load balancer): after sign-in the provider
      // sends the browser back to ISSUER, and its cookies for 127.0.0.1 go along (not scoped by port).
      let back = second.redirect;
      if (back.origin === new URL(a.url).origin) {
        const onA = new Browser(a.url);
        onA.jar.store(
          new Response(null, {
            headers: elsewhere.jar.entries().map(([k, v]) => ['set-cookie', `${k}=${v}`] as [string, string]),
          }),
        );
        back = new URL((await onA.follow(await onA.get(back.toString()))).url);
      }
      assert.ok(back.searchParams.get('code'), `ended at ${back}`);
    },
  );

  it(
    testBackend === 'postgres'
      ? 'share rate-limit counters'
      : 'keep rate-limit counters per process on SQLite (shared ones need PostgreSQL)',
    async () => {
      const make = worldOn(a);
      const token = make.jwt({ sub: 'two-instance-burst', scopes: [] });
      const statuses = [];
      for (const s of [a, b, a, b]) statuses.push((await request(s, 'GET', '/v2/auth/test', { bearer: token })).status);
      // Burst 3 per second per token: the fourth request, on either instance, is over it when shared.
      assert.deepEqual(statuses, testBackend === 'postgres' ? [200, 200, 200, 429] : [200, 200, 200, 200]);
    },
  );

  it('deliver each webhook event once although both run workers', async () => {
    const make = worldOn(a);
    const owner = await make.user();
    const res = await owner.browser.postJson('/v2/webhooks', { url: receiver.url(), events: ['api_key.created'] });
    assert.equal(res.status, 201);
    for (let i = 0; i < 5; i++) await make.apiKey(owner, ['read:users'], { name: `k${i}` });
    await Promise.all([
      a.built.webhookWorker.drain(),
      b.built.webhookWorker.drain(),
      a.built.webhookWorker.drain(),
      b.built.webhookWorker.drain(),
    ]);
    const deadline = Date.now() + 5000;
    while (receiver.requests.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // give any duplicate the chance to arrive
    const ids = receiver.requests.map((r) => r.headers['webhook-id']);
    assert.equal(ids.length, 5);
    assert.equal(new Set(ids).size, 5);
  });
});
