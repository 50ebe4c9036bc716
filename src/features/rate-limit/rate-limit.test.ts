import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { signIn } from '../../../test/support/api.ts';
import { Browser } from '../../../test/support/http.ts';
import { request, worldOn, credentialServerEnv, type World, type TestUser } from '../../../test/support/world.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

// The documented table, at small sizes, on a clock the test moves (windows are aligned to the clock).
const HOUR = Date.UTC(2026, 10, 27, 12, 0, 0);

describe('rate limits per credential type (per key, user, token and address)', () => {
  let clock = HOUR;
  let server: TestServer;
  let make: World;
  let alice: TestUser;

  before(async () => {
    server = await startTestServer({
      now: () => clock,
      env: {
        ...credentialServerEnv,
        RATE_LIMIT_API_KEY: '6,3',
        RATE_LIMIT_OAUTH: '100,2',
        RATE_LIMIT_JWT: '100,2',
        RATE_LIMIT_UNAUTHENTICATED: '100,2',
        RATE_LIMIT_TOKEN_ENDPOINT: '100,2',
        RATE_LIMIT_APPLICATIONS: '100,1',
      },
    });
    make = worldOn(server);
    alice = await make.user();
  });
  after(() => server.dispose());

  const at = (ms: number) => {
    clock = ms;
  };
  const get = (token?: string, ip = '198.51.100.7') =>
    request(server, 'GET', '/v2/auth/test', { bearer: token, headers: { 'X-Forwarded-For': ip } });

  it('API key: burst N passes, N+1 is 429, the hour quota holds, both reset', async () => {
    at(HOUR + 10_000);
    const { key } = await make.apiKey(alice, ['read:users']);
    for (let i = 1; i <= 3; i++) {
      const res = await get(key);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit'), '6');
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(6 - i));
      assert.equal(res.headers.get('x-ratelimit-reset'), String(HOUR / 1000 + 3600));
      assert.equal(res.headers.get('ratelimit-policy'), '"hourly";q=6;w=3600, "burst";q=3;w=1');
    }
    const refused = await get(key);
    assert.equal(refused.status, 429);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'RATE_LIMITED');
    assert.match((refused.body as { error: { message: string } }).error.message, /3 requests per second/);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(refused.headers.get('x-ratelimit-limit'), '3');
    assert.equal(refused.headers.get('x-ratelimit-remaining'), '0');

    at(HOUR + 11_000); // the next second: 4 counted so far this hour, 2 left
    assert.equal((await get(key)).status, 200);
    assert.equal((await get(key)).status, 200);
    const quota = await get(key);
    assert.equal(quota.status, 429);
    assert.match((quota.body as { error: { message: string } }).error.message, /6 requests per hour/);
    assert.equal(quota.headers.get('retry-after'), String(3600 - 11));

    at(HOUR + 3_600_000); // the next hour
    assert.equal((await get(key)).status, 200);
  });

  it('API key: a key created with its own rate_limit uses it, and keys do not share buckets', async () => {
    at(HOUR + 3_700_000);
    // Lower than the policy (6,3): a user may; only admin:all may go above it.
    const res = await alice.browser.postJson('/v2/api-keys', {
      name: 'bench',
      scopes: ['read:users'],
      rate_limit: { burst: 1, hourly: 5 },
    });
    assert.equal(res.status, 201);
    const { key, rate_limit } = (await res.json()) as { key: string; rate_limit: unknown };
    assert.deepEqual(rate_limit, { burst: 1, hourly: 5 });
    assert.equal((await get(key)).headers.get('x-ratelimit-limit'), '5');
    assert.equal((await get(key)).status, 429);
    const other = await make.apiKey(alice, ['read:users']);
    assert.equal((await get(other.key)).status, 200);
  });

  it('API key: keys with the same own rate_limit still count apart, and a different one applies its own', async () => {
    // Each key is made in a second of its own: the account's session counts against the OAuth burst (2).
    let second = HOUR + 3_750_000;
    const create = async (rateLimit: { burst: number; hourly: number }) => {
      at((second += 1000));
      const res = await alice.browser.postJson('/v2/api-keys', {
        name: 'own',
        scopes: ['read:users'],
        rate_limit: rateLimit,
      });
      assert.equal(res.status, 201);
      return ((await res.json()) as { key: string }).key;
    };
    const first = await create({ burst: 1, hourly: 5 });
    const twin = await create({ burst: 1, hourly: 5 });
    const wider = await create({ burst: 2, hourly: 4 });
    at((second += 1000));
    assert.equal((await get(first)).status, 200);
    assert.equal((await get(first)).status, 429);
    const twinAnswer = await get(twin);
    assert.equal(twinAnswer.status, 200, 'the same limits, another key: its own bucket');
    assert.equal(twinAnswer.headers.get('x-ratelimit-limit'), '5');
    assert.equal((await get(twin)).status, 429);
    const widerAnswer = await get(wider);
    assert.equal(widerAnswer.headers.get('ratelimit-policy'), '"hourly";q=4;w=3600, "burst";q=2;w=1');
    assert.equal((await get(wider)).status, 200);
    assert.equal((await get(wider)).status, 429);
  });

  it("OAuth: per user, across that user's tokens", async () => {
    at(HOUR + 3_800_000);
    const bob = await make.user();
    const first = await make.oauthToken(bob, ['read:users']);
    const second = await make.oauthToken(bob, ['read:users']);
    assert.equal((await get(first.access_token)).status, 200);
    assert.equal((await get(second.access_token)).status, 200);
    const refused = await get(first.access_token);
    assert.equal(refused.status, 429);
    assert.match((refused.body as { error: { message: string } }).error.message, /this user/);
  });

  it('JWT: per token', async () => {
    at(HOUR + 3_900_000);
    const one = make.jwt({ sub: 'svc-1', scopes: ['read:users'] });
    const two = make.jwt({ sub: 'svc-1', scopes: ['read:projects'] });
    assert.equal((await get(one)).status, 200);
    assert.equal((await get(one)).status, 200);
    assert.equal((await get(one)).status, 429);
    assert.equal((await get(two)).status, 200, 'another token has its own bucket');
  });

  it('unauthenticated: per address, and a bad credential counts as unauthenticated', async () => {
    at(HOUR + 4_000_000);
    const a = await get(undefined, '203.0.113.1');
    assert.equal(a.status, 401);
    assert.equal(a.headers.get('x-ratelimit-limit'), '100');
    assert.equal(a.headers.get('x-ratelimit-remaining'), '99');
    assert.equal((await get('lk_bogus', '203.0.113.1')).status, 401);
    const refused = await get(undefined, '203.0.113.1');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal((await get(undefined, '203.0.113.2')).status, 401, 'another address is not limited');
  });

  it('token endpoint: per authenticated client, and per address otherwise', async () => {
    at(HOUR + 4_100_000);
    const svc = await make.serviceToken(alice, ['read:users']); // one token request spent
    const cc = () =>
      fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.9' },
        body: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: svc.app.client_id,
          client_secret: svc.app.client_secret,
          scope: 'read:users',
        }),
      });
    assert.equal((await cc()).status, 200);
    const refused = await cc();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(((await refused.json()) as { error: string }).error, 'rate_limited');

    // A wrong secret is not that client: it spends the caller's address, not the client's bucket.
    at(HOUR + 4_101_000);
    const wrong = () =>
      fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.66' },
        body: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: svc.app.client_id,
          client_secret: 'lkcs_wrong',
          scope: 'read:users',
        }),
      });
    assert.equal((await wrong()).status, 401);
    assert.equal((await wrong()).status, 401);
    assert.equal((await wrong()).status, 429);
    assert.equal((await cc()).status, 200, 'the real client still has its quota');
  });

  it('application registration: per account', async () => {
    at(HOUR + 4_200_000);
    const body = { name: 'App', redirect_uris: ['https://app.example/cb'], scopes: ['read:users'] };
    assert.equal((await alice.browser.postJson('/oauth/applications', body)).status, 201);
    const refused = await alice.browser.postJson('/oauth/applications', body);
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
  });
});

describe('login brute-force protection', () => {
  let clock = HOUR;
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ now: () => clock });
    await server.built.services.accounts.signUp(
      { email: 'carol@example.com', password: 'carol passphrase' },
      BY_SYSTEM,
    );
  });
  after(() => server.dispose());

  async function attempt(email: string, password: string) {
    const browser = new Browser(server.url);
    const res = await signIn(browser, email, password);
    return { status: res.status, text: res.status === 303 ? '' : await res.text() };
  }

  it('refuses after three attempts a minute, answers unknown and known accounts alike, and unlocks', async () => {
    for (const email of ['carol@example.com', 'nobody@example.com']) {
      clock = Math.ceil(clock / 3_600_000) * 3_600_000 + 3_600_000;
      for (let i = 0; i < 3; i++)
        assert.equal((await attempt(email, 'wrong password')).status, 401, `${email} failure ${i + 1}`);
      // The fourth attempt waits, even with the right password, and says so without saying more.
      const held = await attempt(email, 'carol passphrase');
      assert.equal(held.status, 429);
      assert.match(held.text, /Too many sign-in attempts. Try again in 60 seconds\./);
      clock += 60_000;
      const after = await attempt(email, email === 'carol@example.com' ? 'carol passphrase' : 'still wrong');
      assert.equal(after.status, email === 'carol@example.com' ? 303 : 401);
    }
  });

  it('allows ten an hour between sign-ins, counting refused attempts only in the minute', async () => {
    clock = Math.ceil(clock / 3_600_000) * 3_600_000 + 3_600_000;
    const email = 'carol@example.com';
    const statuses: number[] = [];
    for (let minute = 0; minute < 4; minute++) {
      for (let i = 0; i < 5; i++) statuses.push((await attempt(email, 'wrong')).status);
      clock += 60_000;
    }
    assert.deepEqual(statuses.filter((s) => s === 401).length, 10, 'three, three, three, then one');
    const held = await attempt(email, 'carol passphrase');
    assert.equal(held.status, 429);
    assert.match(held.text, /Try again in \d+ seconds/);
    clock += 3_600_000;
    assert.equal((await attempt(email, 'carol passphrase')).status, 303, 'unlocked when the hour passes');
  });
});
