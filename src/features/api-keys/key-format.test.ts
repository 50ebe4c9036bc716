import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  apiKeyIdOf,
  displayPrefix,
  hasApiKeyChecksum,
  looksLikeApiKey,
  mintApiKey,
  parseApiKey,
} from './key-format.ts';

// The API key format, in process: shape and checksum decide before any database work.
describe('API key format (pure)', () => {
  it('mints lk_<12 id>_<36> keys whose id parses back', () => {
    for (let i = 0; i < 200; i++) {
      const { id, key } = mintApiKey();
      assert.match(key, /^lk_[0-9A-Za-z]{12}_[0-9A-Za-z]{36}$/);
      assert.equal(key.slice(3, 15), id);
      assert.equal(parseApiKey(key), id);
      assert.equal(looksLikeApiKey(key), true);
      assert.ok(key.startsWith(displayPrefix(id)), 'the listing prefix is the key up to its secret');
    }
  });

  it('refuses every one-character typo by its checksum', () => {
    const { key } = mintApiKey();
    for (let at = 3; at < key.length; at++) {
      if (at === 15) continue; // the separator
      const swapped = key[at] === 'A' ? 'B' : 'A';
      const typo = key.slice(0, at) + swapped + key.slice(at + 1);
      assert.equal(parseApiKey(typo), null, `typo at ${at}`);
    }
  });

  it("refuses a key ending in another key's checksum, and the right checksum after a wrong secret", () => {
    const { key } = mintApiKey();
    const other = mintApiKey().key;
    assert.equal(parseApiKey(key.slice(0, -6) + other.slice(-6)), null);
    assert.equal(parseApiKey(other.slice(0, -6) + key.slice(-6)), null);
    assert.equal(parseApiKey(key.slice(0, -6) + key.slice(-6)), key.slice(3, 15));
  });

  it('refuses the wrong length, a foreign prefix, non-base62 characters and empty input', () => {
    const { key } = mintApiKey();
    for (const bad of [
      '',
      key.slice(0, -1),
      `${key}A`,
      `sk_${key.slice(3)}`,
      `LK_${key.slice(3)}`,
      `${key.slice(0, 20)}-${key.slice(21)}`,
      `${key.slice(0, 20)}é${key.slice(21)}`,
      key.replace('_', '-'),
    ])
      assert.equal(parseApiKey(bad), null, JSON.stringify(bad));
  });

  it('tells the shape (the id) and the checksum apart, and parses a key only with both', () => {
    const { id, key } = mintApiKey();
    const typo = `${key.slice(0, 20)}${key[20] === 'A' ? 'B' : 'A'}${key.slice(21)}`;
    assert.equal(apiKeyIdOf(key), id);
    assert.equal(hasApiKeyChecksum(key), true);
    // A typo in the secret keeps the shape and the id, and only the checksum refuses it.
    assert.equal(apiKeyIdOf(typo), id);
    assert.equal(hasApiKeyChecksum(typo), false);
    assert.equal(parseApiKey(typo), null);
    for (const bad of ['', key.slice(0, -1), `sk_${key.slice(3)}`, `${key.slice(0, 20)}-${key.slice(21)}`]) {
      assert.equal(apiKeyIdOf(bad), null, JSON.stringify(bad));
    }
  });

  it('routes on the prefix alone: anything else is another kind of credential', () => {
    assert.equal(looksLikeApiKey('lk_anything'), true);
    assert.equal(looksLikeApiKey('eyJhbGciOiJIUzI1NiJ9.e30.x'), false);
    assert.equal(looksLikeApiKey('lk'), false);
    assert.equal(displayPrefix('abcdefABCDEF'), 'lk_abcdefABCDEF_');
  });
});
