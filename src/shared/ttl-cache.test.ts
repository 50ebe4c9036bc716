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

  it('stores nothing when its time to live is 0', () => {
    const cache = createTtlCache<number>({ ttlMs: 0, max: 2, now: () => 0 });
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
  });
});
