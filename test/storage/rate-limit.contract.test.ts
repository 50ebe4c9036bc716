import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPostgresStore } from '../../src/features/rate-limit/postgres-store.ts';
import { createMemoryStore, type RateLimitStore } from '../../src/features/rate-limit/store.ts';
import { testBackend } from '../support/database.ts';
import { describeStorage, freshId } from './contract.ts';

/** How a contract moves time for a store: the memory store takes the caller's clock, PostgreSQL's runs on its own. */
interface StoreUnderTest {
  store(): RateLimitStore;
  now(): number;
  /** Lets `ms` pass for the store. */
  advance(ms: number): Promise<void>;
}

const HOUR = 3_600_000;
const SECOND = 1_000;

/**
 * The rate-limit store contract, one for every store: counts per key and window length, a count
 * that starts again once its window has passed, and no count lost to concurrent hits.
 */
export function rateLimitStoreContract(t: StoreUnderTest): void {
  const hit = async (key: string, windowMs: number) => t.store().hit(key, windowMs, t.now());

  it('counts hits of one key in one window, with when the window resets', async () => {
    const key = `key:${freshId('k')}`;
    const start = t.now();
    const counts = [];
    for (let i = 0; i < 3; i++) counts.push(await hit(key, HOUR));
    assert.deepEqual(
      counts.map((c) => c.count),
      [1, 2, 3],
    );
    for (const c of counts) {
      assert.ok(c.resetAt > start - SECOND && c.resetAt <= t.now() + HOUR + SECOND, `resetAt ${c.resetAt}`);
    }
  });

  it('counts each key and each window length apart', async () => {
    const a = `ip:${freshId('a')}`;
    const b = `ip:${freshId('b')}`;
    await hit(a, HOUR);
    await hit(a, HOUR);
    assert.equal((await hit(b, HOUR)).count, 1, 'another key');
    assert.equal((await hit(a, 60 * SECOND)).count, 1, 'another window length, same key');
    assert.equal((await hit(a, HOUR)).count, 3);
    assert.equal((await hit(`user:🦊:${freshId('u')}`, HOUR)).count, 1, 'unicode in a key');
  });

  it('takes any key a caller builds: long (an email of 254 characters and more), unicode, NUL', async () => {
    // The sign-in throttle's key holds the email as typed (up to 254 characters after trimming), so
    // a key may run past any column width; a NUL in it must count like any other character.
    const long = `login:acct:pwd:${'a'.repeat(250)}@example.test:0:${freshId('k')}`;
    const longer = `${long}-and-more`;
    assert.equal((await hit(long, HOUR)).count, 1);
    assert.equal((await hit(long, HOUR)).count, 2);
    assert.equal((await hit(longer, HOUR)).count, 1, 'keys sharing a long prefix are still apart');
    const unicode = `login:acct:pwd:zoë🦊@exämple.test:0:${freshId('k')}`;
    assert.equal((await hit(unicode, HOUR)).count, 1);
    assert.equal((await hit(unicode, HOUR)).count, 2);
    const nul = `login:acct:pwd:a\u0000b:${freshId('k')}`;
    assert.equal((await hit(nul, HOUR)).count, 1);
    assert.equal((await hit(nul, HOUR)).count, 2);
    assert.equal((await hit(nul.replace('\u0000', ''), HOUR)).count, 1, 'NUL is not dropped from the key');
  });

  it('loses no hit to concurrent requests', async () => {
    const key = `key:${freshId('burst')}`;
    const counts = await Promise.all(Array.from({ length: 40 }, () => hit(key, HOUR)));
    assert.deepEqual(
      counts.map((c) => c.count).sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  it('counts hits of several keys and windows sent together each in its own count', async () => {
    // A request counts its hourly and burst windows at once, alongside other requests' hits.
    const a = `key:${freshId('a')}`;
    const b = `key:${freshId('b')}`;
    await hit(a, HOUR);
    const together = await Promise.all([hit(a, HOUR), hit(a, SECOND), hit(b, HOUR), hit(a, HOUR), hit(b, SECOND)]);
    assert.deepEqual(
      together.map((c) => c.count),
      [2, 1, 1, 3, 1],
    );
    assert.ok(together[1]!.resetAt <= t.now() + SECOND + 50, 'the burst window ends within its second');
    assert.ok(together[0]!.resetAt > t.now() + SECOND, 'the hourly window runs on');
  });

  it('starts the count again once the window has passed', async () => {
    const key = `key:${freshId('reset')}`;
    const first = await hit(key, SECOND);
    assert.equal(first.count, 1);
    await t.advance(Math.max(0, first.resetAt - t.now()) + 50);
    assert.equal((await hit(key, SECOND)).count, 1);
  });
}

describe('rate-limit store in memory', () => {
  let clock = 1_700_000_000_000;
  const store = createMemoryStore();
  rateLimitStoreContract({
    store: () => store,
    now: () => clock,
    advance: async (ms) => {
      clock += ms;
    },
  });
});

// PostgreSQL's store serves several instances; on SQLite the counters live in memory (above).
if (testBackend === 'postgres') {
  describeStorage('rate-limit store on PostgreSQL', (s) => {
    let store: RateLimitStore | undefined;
    rateLimitStoreContract({
      store: () => (store ??= createPostgresStore(s.pool)),
      // Its windows run on the clock of the server and the database, not an injected one.
      now: () => Date.now(),
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });

    it('keeps its counters out of the WAL (a count lost in a crash only restarts a window)', async () => {
      // Logged, every count waited for a WAL flush: most of what a rate-limited request cost PostgreSQL.
      const { rows } = await s.pool.query<{ relpersistence: string }>(
        "SELECT relpersistence FROM pg_class WHERE oid = 'rate_limits'::regclass",
      );
      assert.equal(rows[0]?.relpersistence, 'u');
    });
  });
}
