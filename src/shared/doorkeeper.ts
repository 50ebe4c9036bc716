/**
 * Remembers, roughly, which ids it has been shown since it last forgot: a cache asks it before
 * keeping a value read on a miss, and keeps only what was missed before ("admission on second
 * sight", the doorkeeper of TinyLFU). An id presented once, or a sweep over more ids than the
 * cache holds, then passes through without evicting what is used often: without it each miss
 * made an entry, promoted it to the old generation, and evicted one that may have been hot
 * (measured on 50,000 API keys in turn against a 10,000-entry cache: 7-9 µs a miss, and 10 MiB).
 *
 * A Bloom filter of `BITS` bits over two 32-bit hashes of the id, in fixed memory and with no
 * string kept. It forgets everything after `capacity` ids new to it, so it never fills: a value
 * then needs one more miss to be kept. Its errors are one way: an id never shown may be taken for
 * a second sight (about 2 % of them at `capacity` ids), and the value is kept, as it always was.
 */
const BITS = 1 << 18; // 32 KiB
const PROBES = 4;

export interface Doorkeeper {
  /** Whether `id` was shown before (since the last forgetting); shows it either way. */
  seenBefore(id: string): boolean;
}

export function createDoorkeeper(capacity: number): Doorkeeper {
  const bits = new Uint32Array(BITS / 32);
  let added = 0;
  return {
    seenBefore(id: string): boolean {
      // FNV-1a, and a second multiplicative hash of the same characters for the probe stride.
      let h1 = 0x811c9dc5;
      let h2 = 0x9747b28c;
      for (let i = 0; i < id.length; i++) {
        const c = id.charCodeAt(i);
        h1 = Math.imul(h1 ^ c, 0x01000193);
        h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      }
      h2 ^= h2 >>> 15;
      h2 |= 1; // odd: the probes fall on distinct bits
      let seen = true;
      for (let p = 0; p < PROBES; p++) {
        const bit = (h1 + Math.imul(p, h2)) & (BITS - 1);
        const word = bit >>> 5;
        const mask = 1 << (bit & 31);
        if ((bits[word]! & mask) === 0) {
          seen = false;
          bits[word]! |= mask;
        }
      }
      if (!seen && ++added >= capacity) {
        bits.fill(0);
        added = 0;
      }
      return seen;
    },
  };
}
