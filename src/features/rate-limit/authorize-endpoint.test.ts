import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { authorizeUrl } from '../../../test/support/http.ts';
import { newApp, authorizeAs, looksLikeStackTrace, type RegisteredApp } from '../../../test/support/oauth.ts';
import { loadConfig } from '../../config.ts';
import { worldOn, REDIRECT_URI } from '../../../test/support/world.ts';

// Every anonymous GET /oauth/authorize stores an interaction for an hour: from one address they
// are limited (RATE_LIMIT_AUTHORIZE), and a refused request stores nothing.

const BURST = 5;

describe('GET /oauth/authorize is limited per address', () => {
  let server: TestServer;
  let app: RegisteredApp;

  before(async () => {
    // A clock that stands still: each parallel volley falls in one burst window.
    let clock = Date.now();
    server = await startTestServer({
      now: () => clock,
      env: { TRUST_PROXY: '1', RATE_LIMIT_AUTHORIZE: `1000,${BURST}` },
    });
    app = await newApp(server, { scopes: ['read:users'] });
    nextSecond = () => (clock += 1000);
  });
  after(() => server.dispose());
  let nextSecond = () => 0;

  const interactions = async () =>
    Number(
      (await sql<{ n: number }>`SELECT COUNT(*) AS n FROM oidc_payloads WHERE type = 'Interaction'`.execute(server.db))
        .rows[0]!.n,
    );
  const start = (ip: string, state: string) =>
    fetch(
      authorizeUrl(server.url, { clientId: app.client_id, redirectUri: REDIRECT_URI, scope: 'read:users', state }),
      {
        redirect: 'manual',
        headers: { 'X-Forwarded-For': ip },
      },
    );

  const stored = `${BURST} interactions stored`;
  it(`40 anonymous requests at once from one address: ${stored}, the rest 429 with a page`, async () => {
    nextSecond();
    const before = await interactions();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => start('203.0.113.7', `s${i}`)));
    const pages = await Promise.all(
      answers.map(async (r) => ({ status: r.status, headers: r.headers, html: await r.text() })),
    );
    const statuses = pages.map((p) => p.status);
    assert.equal(statuses.filter((s) => s === 303).length, BURST, statuses.join(' '));
    assert.equal(statuses.filter((s) => s === 429).length, 40 - BURST, statuses.join(' '));
    assert.equal((await interactions()) - before, BURST, 'a refused request stores no interaction');

    const refused = pages.find((p) => p.status === 429)!;
    assert.match(refused.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.html, /Too many/i);
    assert.ok(!looksLikeStackTrace(refused.html));

    // Another address is not limited.
    const other = await start('203.0.113.8', 'other');
    assert.equal(other.status, 303);
    await other.arrayBuffer();
  });

  it('a person signing in and consenting stays well within the default', async () => {
    nextSecond();
    const defaults = loadConfig({});
    assert.ok(
      defaults.RATE_LIMIT_AUTHORIZE.burst >= 10 && defaults.RATE_LIMIT_AUTHORIZE.hourly >= 500,
      JSON.stringify(defaults.RATE_LIMIT_AUTHORIZE),
    );
    const { redirect } = await authorizeAs(server, app, await worldOn(server).user());
    assert.ok(redirect.searchParams.get('code'));
  });
});
