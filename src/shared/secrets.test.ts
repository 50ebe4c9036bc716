import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasValidChecksum, mintSecret, newId, randomBase62, safeEqual, sha256 } from './secrets.ts';

describe('secrets (pure)', () => {
  it('compares in constant time and tells equal from different, whatever the lengths', () => {
    assert.equal(safeEqual('same', 'same'), true);
    assert.equal(safeEqual('same', 'sane'), false);
    assert.equal(safeEqual('short', 'longer value'), false);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('é', 'e'), false);
  });

  it('draws base62 of the asked length, every symbol in use', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const s = randomBase62(40);
      assert.match(s, /^[0-9A-Za-z]{40}$/);
      for (const c of s) seen.add(c);
    }
    assert.equal(seen.size, 62);
  });

  it('mints <prefix>_<30><6 checksum> and checks the checksum for that prefix only', () => {
    const secret = mintSecret('whsec');
    assert.match(secret, /^whsec_[0-9A-Za-z]{36}$/);
    assert.equal(hasValidChecksum(secret, 'whsec'), true);
    assert.equal(hasValidChecksum(secret, 'lkcs'), false);
    assert.equal(hasValidChecksum(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, 'whsec'), false);
    assert.equal(hasValidChecksum(mintSecret('x', 10), 'x', 10), true);
    assert.equal(hasValidChecksum(mintSecret('x', 10), 'x'), false);
  });

  it('hashes as lowercase hex SHA-256, and names ids by their prefix', () => {
    assert.equal(sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.match(newId('usr'), /^usr_[0-9A-Za-z]{20}$/);
    assert.match(newId('app', 8), /^app_[0-9A-Za-z]{8}$/);
  });
});
