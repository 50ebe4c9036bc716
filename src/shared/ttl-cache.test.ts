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
    cache.set('a', 3); // replacing does not evict
    assert.equal(cache.size, 2);
    cache.set('c', 4);
    assert.equal(cache.get('a'), undefined);
    assert.deepEqual([cache.get('b'), cache.get('c')], [2, 4]);
    cache.deleteWhere((v) => v === 2);
    assert.equal(cache.get('b'), undefined);
    cache.delete('c');
    assert.equal(cache.size, 0);
    cache.set('d', 5);
    cache.clear();
    assert.equal(cache.get('d'), undefined);
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
