import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { registerApp } from '../../../test/support/http.ts';
import { worldOn, credentialServerEnv, type TestUser } from '../../../test/support/world.ts';

// A client that does not authenticate at the token endpoint (an unknown client_id, or a
// confidential client's id without its secret) is counted on its address, whatever client_id it
// names: a fresh client_id per request must not be a fresh bucket.

const BURST = 5;

describe('token endpoint: failed client authentication is limited per address', () => {
  let server: TestServer;
  let alice: TestUser;
  let confidential: { client_id: string; client_secret?: string };
  let publicApp: { client_id: string };

  before(async () => {
    // A clock that stands still: each parallel volley falls in one burst window.
    let clock = Date.now();
    server = await startTestServer({
      now: () => clock,
      env: {
        ...credentialServerEnv,
        RATE_LIMIT_UNAUTHENTICATED: `1000,${BURST}`,
        RATE_LIMIT_TOKEN_ENDPOINT: '1000,100',
      },
    });
    alice = await worldOn(server).user({ tag: 'alice' });
    confidential = await registerApp(alice.browser, {
      name: 'Web',
      redirect_uris: ['https://app.example/cb'],
      scopes: ['read:users'],
    });
    publicApp = await registerApp(alice.browser, {
      name: 'SPA',
      type: 'spa',
      redirect_uris: ['https://spa.example/cb'],
      scopes: ['read:users'],
    });
    // Each test starts in a fresh second with fresh buckets.
    nextSecond = () => (clock += 1000);
  });
  after(() => server.dispose());
  let nextSecond = () => 0;

  const post = (form: Record<string, string>, ip: string) =>
    fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': ip },
      body: new URLSearchParams(form).toString(),
    });

  /** 40 requests at once from one address, each built by `form(i)`; the statuses, and one 429. */
  async function volley(form: (i: number) => Record<string, string>, ip: string) {
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => post(form(i), ip)));
    const bodies = await Promise.all(
      answers.map(async (r) => ({
        status: r.status,
        headers: r.headers,
        body: (await r.json()) as Record<string, unknown>,
      })),
    );
    return { statuses: bodies.map((b) => b.status), refused: bodies.find((b) => b.status === 429) };
  }

  const attacks: [string, (i: number) => Record<string, string>][] = [
    [
      'a random client_id per request, no secret',
      () => ({
        grant_type: 'authorization_code',
        code: 'x',
        client_id: `app_${crypto.randomBytes(10).toString('hex')}`,
      }),
    ],
    [
      'a random client_id per request, with a secret',
      () => ({
        grant_type: 'client_credentials',
        client_id: `app_${crypto.randomBytes(10).toString('hex')}`,
        client_secret: 'lkcs_guess',
      }),
    ],
    [
      "a confidential client's id without its secret",
      () => ({ grant_type: 'client_credentials', client_id: confidential.client_id, scope: 'read:users' }),
    ],
  ];
  attacks.forEach(([name, form], n) => {
    it(`${name}: ${BURST} answered, then 429 in RFC 6749 form with Retry-After`, async () => {
      nextSecond();
      const { statuses, refused } = await volley(form, `203.0.113.${10 + n}`);
      assert.equal(statuses.filter((s) => s === 429).length, 40 - BURST, statuses.join(' '));
      assert.ok(
        statuses.every((s) => s === 429 || (s >= 400 && s < 500)),
        statuses.join(' '),
      );
      assert.equal(refused!.body['error'], 'rate_limited');
      assert.equal(typeof refused!.body['error_description'], 'string');
      assert.equal(refused!.headers.get('retry-after'), '1');
      assert.equal(refused!.headers.get('cache-control'), 'no-store');
    });
  });

  it("another address is not limited by the attacker's failures, and a real client keeps its own bucket", async () => {
    nextSecond();
    await volley(attacks[0]![1], '203.0.113.50');
    const good = await post(
      {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        client_id: publicApp.client_id,
        redirect_uri: 'https://spa.example/cb',
        code_verifier: 'v'.repeat(43),
      },
      '203.0.113.51',
    );
    assert.equal(good.status, 400, 'a real public client is answered (invalid_grant), not refused');
    assert.equal(((await good.json()) as { error: string }).error, 'invalid_grant');
    const cc = await post(
      {
        grant_type: 'client_credentials',
        client_id: confidential.client_id,
        client_secret: confidential.client_secret!,
        scope: 'read:users',
      },
      '203.0.113.50',
    );
    assert.notEqual(
      cc.status,
      429,
      'an authenticated client is counted on its own bucket, even from the attacked address',
    );
    await cc.arrayBuffer();
  });
});
