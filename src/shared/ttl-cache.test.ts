import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTtlCache } from './ttl-cache.ts';

describe('ttl cache', () => {
  it('trusts an entry for its time to live, then forgets it', () => {
    let t = 1_000;
    const cache = createTtlCache<string>({ ttlMs: 100, max: 10, now: () => t });
    cache.set('a', 'A');
    t += 99;
    assert.equal(cache.get('a'), 'A');
    t += 1;
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.size, 0);
  });

  it('drops the oldest entry when full, and evicts on request', () => {
    const cache = createTtlCache<number>({ ttlMs: 1_000, max: 2, now: () => 0 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3); // replacing does not evict; it makes 'a' the newest
    assert.equal(cache.size, 2);
    cache.set('c', 4);
    assert.equal(cache.get('b'), undefined);
    assert.deepEqual([cache.get('a'), cache.get('c')], [3, 4]);
    cache.deleteWhere((v) => v === 3);
    assert.equal(cache.get('a'), undefined);
    cache.delete('c');
    assert.equal(cache.size, 0);
    cache.set('d', 5);
    cache.clear();
    assert.equal(cache.get('d'), undefined);
  });

  it('with maxBytes, drops the oldest entries until the new one fits, and never holds more', () => {
    const cache = createTtlCache<{ payload: string }>({ ttlMs: 1_000, max: 100, now: () => 0, maxBytes: 1_200 });
    const row = (n: number) => ({ payload: 'x'.repeat(n) });
    cache.set('a', row(300));
    cache.set('b', row(300));
    cache.set('c', row(300));
    assert.equal(cache.size, 3);
    cache.set('d', row(300)); // four would weigh over 1,200 bytes: 'a' goes
    assert.deepEqual(
      ['a', 'b', 'c', 'd'].map((k) => cache.get(k) !== undefined),
      [false, true, true, true],
    );
    assert.ok(cache.bytes <= 1_200 && cache.bytes > 1_000, String(cache.bytes));
    cache.set('huge', row(5_000)); // larger than the whole budget: not stored, nothing evicted
    assert.equal(cache.get('huge'), undefined);
    assert.equal(cache.size, 3);
    cache.set('b', row(10)); // a replaced entry gives its bytes back
    cache.delete('c');
    cache.deleteWhere((v) => v.payload.length === 300);
    assert.equal(cache.size, 1);
    assert.ok(cache.bytes < 100, String(cache.bytes));
    cache.clear();
    assert.equal(cache.bytes, 0);
  });

  it('weighs expired entries out when they are read', () => {
    let t = 0;
    const cache = createTtlCache<string>({ ttlMs: 10, max: 10, now: () => t, maxBytes: 1_000 });
    cache.set('a', 'x'.repeat(100));
    assert.ok(cache.bytes > 100);
    t = 10;
    assert.equal(cache.get('a'), undefined);
    assert.equal(cache.bytes, 0);
  });

  it('keeps dropping the oldest entry through many evictions, deletions and a clear', () => {
    const cache = createTtlCache<number>({ ttlMs: 1_000, max: 3, now: () => 0 });
    for (let i = 0; i < 50; i++) cache.set(`k${i}`, i);
    assert.deepEqual([cache.get('k46'), cache.get('k47'), cache.get('k48'), cache.get('k49')], [undefined, 47, 48, 49]);
    cache.delete('k48');
    cache.set('k50', 50);
    cache.set('k51', 51);
    assert.deepEqual([cache.get('k47'), cache.get('k49'), cache.get('k50'), cache.get('k51')], [undefined, 49, 50, 51]);
    cache.clear();
    for (const k of ['x', 'y', 'z', 'w']) cache.set(k, 0);
    assert.deepEqual(
      ['x', 'y', 'z', 'w'].map((k) => cache.get(k)),
      [undefined, 0, 0, 0],
    );
  });

  it('stores nothing when its time to live is 0', () => {
    const cache = createTtlCache<number>({ ttlMs: 0, max: 2, now: () => 0 });
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
  });
});
