import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decide, ietfHeaders, windowsOf } from './decide.ts';
import { createMemoryStore } from './store.ts';
import { waitMs, ACCOUNT_RULE } from './login-throttle.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0); // on a whole hour, so windows start at T0

async function count(store: ReturnType<typeof createMemoryStore>, key: string, now: number) {
  const counted = await Promise.all(windowsOf({ hourly: 10, burst: 3 }).map(async (w) => ({ ...w, ...(await store.hit(key, w.windowMs, now)) })));
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
    for (let i = 0; i < 10; i++) assert.equal((await count(store, 'q', T0 + i * 1000)).allowed, true, `request ${i + 1}`);
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

describe('login back-off (pure)', () => {
  it('lets the free failures through, then doubles the wait, and forgets after the window', () => {
    const at = (failures: number, last: number) => ({ failures, windowStart: T0, lastFailureAt: last });
    assert.equal(waitMs(at(3, T0), ACCOUNT_RULE, T0), 0);
    assert.equal(waitMs(at(4, T0), ACCOUNT_RULE, T0), 1000);
    assert.equal(waitMs(at(5, T0), ACCOUNT_RULE, T0), 2000);
    assert.equal(waitMs(at(6, T0), ACCOUNT_RULE, T0 + 1500), 2500);
    assert.equal(waitMs(at(30, T0), ACCOUNT_RULE, T0), ACCOUNT_RULE.maxDelayMs);
    assert.equal(waitMs(at(30, T0), ACCOUNT_RULE, T0 + ACCOUNT_RULE.windowMs), 0, 'unlocked when the window passes');
  });
});
