import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, ietfHeaders, windowsOf } from './decide.ts';
import { createMemoryStore } from './store.ts';
import { createLoginThrottle } from './login-throttle.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0); // on a whole hour, so windows start at T0

async function count(store: ReturnType<typeof createMemoryStore>, key: string, now: number) {
  const counted = await Promise.all(
    windowsOf({ hourly: 10, burst: 3 }).map(async (w) => ({ ...w, ...(await store.hit(key, w.windowMs, now)) })),
  );
  return decide(counted, now);
}

describe('rate-limit decision (pure, injected time)', () => {
  it('passes the burst exactly, refuses the next, and the burst resets after its second', async () => {
    const store = createMemoryStore();
    for (let i = 1; i <= 3; i++) {
      const d = await count(store, 'k', T0 + 100);
      assert.equal(d.allowed, true);
      assert.equal(d.limit, 10);
      assert.equal(d.remaining, 10 - i);
      assert.equal(d.reset, T0 / 1000 + 3600);
    }
    const refused = await count(store, 'k', T0 + 200);
    assert.equal(refused.allowed, false);
    assert.equal(refused.window, 'burst');
    assert.equal(refused.limit, 3);
    assert.equal(refused.remaining, 0);
    assert.equal(refused.retryAfter, 1);
    assert.equal((await count(store, 'k', T0 + 1000)).allowed, true, 'a new second');
  });

  it('enforces the hourly quota across seconds and restores it at the hour', async () => {
    const store = createMemoryStore();
    // Every attempt counts (refused ones too), as a shared store would count them.
    for (let i = 0; i < 10; i++)
      assert.equal((await count(store, 'q', T0 + i * 1000)).allowed, true, `request ${i + 1}`);
    const over = await count(store, 'q', T0 + 20_000);
    assert.equal(over.allowed, false);
    assert.equal(over.window, 'hourly');
    assert.equal(over.retryAfter, 3600 - 20);
    assert.equal((await count(store, 'q', T0 + 3_600_000)).allowed, true);
  });

  it('keeps buckets apart', async () => {
    const store = createMemoryStore();
    for (let i = 0; i < 3; i++) await count(store, 'a', T0);
    assert.equal((await count(store, 'a', T0)).allowed, false);
    assert.equal((await count(store, 'b', T0)).allowed, true);
  });

  it('writes the IETF RateLimit-Policy and RateLimit fields', async () => {
    const store = createMemoryStore();
    const d = await count(store, 'h', T0 + 500);
    const h = ietfHeaders(d, T0 + 500);
    assert.equal(h.policy, '"hourly";q=10;w=3600, "burst";q=3;w=1');
    assert.equal(h.state, '"hourly";r=9;t=3600, "burst";r=2;t=1');
  });
});

describe('the in-memory rate-limit store stays bounded', () => {
  it('forgets the oldest windows when callers from many addresses fill it within one hour', () => {
    const store = createMemoryStore({ maxKeys: 1000 });
    const hour = 3_600_000;
    // One hour-long window per address, as requests without a credential are counted: none is stale.
    for (let i = 0; i < 50_000; i++) store.hit(`v2:ip:2001:db8::${i.toString(16)}`, hour, T0 + i);
    assert.ok(store.size <= 1000, `${store.size} windows kept`);
    // The newest windows are still counted; the first ones were forgotten and count afresh.
    assert.equal(store.hit('v2:ip:2001:db8::c34f', hour, T0 + 60_000).count, 2);
    assert.equal(store.hit('v2:ip:2001:db8::0', hour, T0 + 60_000).count, 1);
  });

  it('sweeps stale windows before it forgets live ones', () => {
    const store = createMemoryStore({ maxKeys: 100 });
    store.hit('kept', 3_600_000, T0);
    for (let i = 0; i < 99; i++) store.hit(`burst-${i}`, 1000, T0);
    // A second later every burst window is stale: sweeping them makes room, the hourly one stays.
    store.hit('another', 1000, T0 + 1000);
    assert.equal(store.hit('kept', 3_600_000, T0 + 1000).count, 2);
  });

  it('holds only the current window of each length: the counts of the last one go when it ends', () => {
    const store = createMemoryStore();
    for (let i = 0; i < 500; i++) {
      store.hit(`key-${i}`, 3_600_000, T0);
      store.hit(`key-${i}`, 1000, T0);
    }
    assert.equal(store.size, 1000);
    // The next second: the 500 burst counts of the last one are gone, the hourly ones count on.
    assert.deepEqual(store.hit('key-0', 1000, T0 + 1000), { count: 1, resetAt: T0 + 2000 });
    assert.equal(store.size, 501);
    assert.deepEqual(store.hit('key-0', 3_600_000, T0 + 1000), { count: 2, resetAt: T0 + 3_600_000 });
  });
});

describe('login throttle (on the rate-limit store, driven by a clock)', () => {
  it(
    'counts each attempt before it is checked: 3 a minute and 10 an hour per account, whatever the ' + 'outcome',
    async () => {
      let t = T0;
      const throttle = createLoginThrottle({
        store: createMemoryStore(),
        now: () => t,
        perAddress: { hourly: 1000, burst: 100 },
      });
      const admitted = async (n: number) => {
        const answers = await Promise.all(
          Array.from({ length: n }, () => throttle.admit('pwd:a@example.com:0', '10.0.0.1')),
        );
        return answers.filter((a) => a.allowed).length;
      };
      assert.equal(await admitted(40), 3, 'forty at once: three admitted');
      const refused = await throttle.admit('pwd:a@example.com:0', '10.0.0.1');
      assert.deepEqual(refused, { allowed: false, retryAfterMs: 60_000 });
      assert.equal(await admitted(1), 0);
      for (let minute = 1; minute <= 3; minute++) {
        t = T0 + minute * 60_000;
        assert.equal(
          await admitted(5),
          minute < 3 ? 3 : 1,
          `minute ${minute}: the hour allows ${minute < 3 ? 3 : 1} more`,
        );
      }
      assert.equal(await admitted(1), 0, 'the hour is used up');
      assert.equal(
        (await throttle.admit('pwd:a@example.com:1', '10.0.0.1')).allowed,
        true,
        'a sign-in starts a new count (the key changes)',
      );
      t = T0 + 3_600_000;
      assert.equal(await admitted(1), 1, 'unlocked when the hour passes');
    },
  );

  it('counts every attempt of an address, across accounts', async () => {
    const throttle = createLoginThrottle({
      store: createMemoryStore(),
      now: () => T0,
      perAddress: { hourly: 100, burst: 5 },
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => throttle.admit(`pwd:user${i}@example.com:0`, '10.0.0.2')),
    );
    assert.equal(answers.filter((a) => a.allowed).length, 5);
    assert.equal(
      (await throttle.admit('pwd:other@example.com:0', '10.0.0.3')).allowed,
      true,
      'another address is not affected',
    );
  });
});
