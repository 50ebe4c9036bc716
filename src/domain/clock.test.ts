import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTtlCache } from '../shared/ttl-cache.ts';
import { fakeClock, systemClock } from './clock.ts';

describe('Clock: time is passed in, so a test can set it', () => {
  it('a fake clock stands still until moved, and only moves forward', () => {
    const clock = fakeClock(1_000);
    assert.equal(clock(), 1_000);
    assert.equal(clock(), 1_000);
    clock.advance(250);
    assert.equal(clock(), 1_250);
    assert.throws(() => clock.advance(-1), RangeError);
    clock.set(5_000);
    assert.equal(clock(), 5_000);
  });

  it('the system clock is the wall clock', () => {
    const before = Date.now();
    const t = systemClock();
    assert.ok(t >= before && t <= Date.now());
  });

  it('drives a time rule in-process: a cached entry lives exactly its TTL', () => {
    const clock = fakeClock();
    const cache = createTtlCache<string>({ ttlMs: 60_000, max: 10, now: clock });
    cache.set('k', 'v');
    clock.advance(59_999);
    assert.equal(cache.get('k'), 'v');
    clock.advance(1);
    assert.equal(cache.get('k'), undefined);
  });
});
