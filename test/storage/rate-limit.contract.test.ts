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
 * that starts again once its window has passed, and no count lost to concurrent hits. `limit` is
 * the limit callers give with each hit (none: the sign-in throttle's way); a store may reserve
 * counts within it, and must count the same.
 */
export function rateLimitStoreContract(t: StoreUnderTest, limit?: number): void {
  const hit = async (key: string, windowMs: number) => t.store().hit(key, windowMs, t.now(), limit);

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

for (const limit of [undefined, 1_000_000]) {
  describe(`rate-limit store in memory${limit ? ', hits with a limit' : ''}`, () => {
    let clock = 1_700_000_000_000;
    const store = createMemoryStore();
    rateLimitStoreContract(
      {
        store: () => store,
        now: () => clock,
        advance: async (ms) => {
          clock += ms;
        },
      },
      limit,
    );
  });
}

// PostgreSQL's store serves several instances; on SQLite the counters live in memory (above).
if (testBackend === 'postgres') {
  describeStorage('rate-limit store on PostgreSQL', (s) => {
    for (const limit of [undefined, 1_000_000]) {
      describe(limit ? 'hits with a limit (counts reserved ahead)' : 'hits without a limit', () => {
        let store: RateLimitStore | undefined;
        rateLimitStoreContract(
          {
            store: () => (store ??= createPostgresStore(s.pool)),
            // Its windows run on the clock of the server and the database, not an injected one.
            now: () => Date.now(),
            advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          },
          limit,
        );
      });
    }

    /** Statements the store sends, counted as the pool hands out connections (one per query). */
    const countStatements = () => {
      let n = 0;
      const onAcquire = () => {
        n += 1;
      };
      s.pool.on('acquire', onAcquire);
      return {
        get count() {
          return n;
        },
        stop: () => s.pool.off('acquire', onAcquire),
      };
    };

    it('counts most hits of a busy key without a statement each, answering them at once', async () => {
      const store = createPostgresStore(s.pool);
      const key = `key:${freshId('busy')}`;
      const statements = countStatements();
      const counts: number[] = [];
      let atOnce = 0;
      try {
        for (let i = 0; i < 300; i++) {
          const answer = store.hit(key, HOUR, Date.now(), 1_000_000);
          if (!(answer instanceof Promise)) atOnce += 1;
          counts.push((await answer).count);
        }
      } finally {
        statements.stop();
      }
      assert.deepEqual(
        counts,
        Array.from({ length: 300 }, (_, i) => i + 1),
        'one instance still counts 1, 2, 3 ...',
      );
      assert.ok(statements.count <= 15, `${statements.count} statements for 300 hits`);
      assert.ok(atOnce >= 280, `${atOnce} of 300 answered at once`);
    });

    it('two instances never hand out one count twice, nor more counts than the limit', async () => {
      // Each instance reserves counts ahead in the shared row: what one holds, the other never gets.
      const a = createPostgresStore(s.pool);
      const b = createPostgresStore(s.pool);
      const key = `key:${freshId('shared')}`;
      const limit = 200;
      const counts: number[] = [];
      for (let wave = 0; wave < 40; wave++) {
        const hits = Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).hit(key, HOUR, Date.now(), limit));
        for (const h of await Promise.all(hits)) counts.push(h.count);
      }
      assert.equal(new Set(counts).size, counts.length, 'every count handed out once');
      const admitted = counts.filter((c) => c <= limit).length;
      assert.ok(admitted <= limit, `${admitted} admitted, limit ${limit}`);
      // Numbers reserved and unused are lost to the window: at most a sixteenth of what was left, each.
      assert.ok(admitted >= limit - 2 * Math.ceil(limit / 16), `${admitted} admitted of ${limit}`);
    });

    it('keeps a bounded state however many buckets are counted (one per address, say)', async () => {
      const store = createPostgresStore(s.pool, { maxRows: 100 });
      const prefix = `ip:${freshId('spray')}`;
      for (let wave = 0; wave < 6; wave++) {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.hit(`${prefix}:${wave}.${i}`, HOUR, Date.now(), 100)),
        );
        assert.ok(store.size <= 100 + 50, `${store.size} states after wave ${wave}`);
      }
      assert.ok(store.size <= 100, `${store.size} states kept`);
      // A forgotten bucket is counted on from the database: nothing is lost but the reservation.
      assert.equal((await store.hit(`${prefix}:0.0`, HOUR, Date.now(), 100)).count, 2);
    });

    it('counts a small limit hit by hit, exactly, across instances', async () => {
      const a = createPostgresStore(s.pool);
      const b = createPostgresStore(s.pool);
      const key = `key:${freshId('small')}`;
      const counts: number[] = [];
      for (let i = 0; i < 14; i++) counts.push((await (i % 2 ? a : b).hit(key, HOUR, Date.now(), 10)).count);
      assert.deepEqual(
        counts,
        Array.from({ length: 14 }, (_, i) => i + 1),
      );
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
