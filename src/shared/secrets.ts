import crypto from 'node:crypto';
import zlib from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** SHA-256 as lowercase hex: how every high-entropy secret and token id is stored. */
export function sha256(value: string): string {
  return crypto.hash('sha256', value, 'hex');
}

/** Constant-time string equality (length differences are not leaked through early exit). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    crypto.timingSafeEqual(ab, ab);
    return false;
  }
  return crypto.timingSafeEqual(ab, bb);
}

/** Uniform random base62 string (rejection sampling, so no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62Checksum(text: string): string {
  let n = zlib.crc32(text);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/**
 * A secret users copy, in GitHub's token shape: `<prefix>_<30 random base62><6 base62 CRC32>`.
 * The prefix lets secret scanners find leaked ones; the checksum lets us refuse typos and foreign
 * strings before touching the database. 30 base62 chars carry ~178 bits of entropy.
 */
export function mintSecret(prefix: string, randomLength = 30): string {
  const head = `${prefix}_${randomBase62(randomLength)}`;
  return head + base62Checksum(head);
}

/** True when `token` has the shape and a valid checksum for `prefix` (no database work). */
export function hasValidChecksum(token: string, prefix: string, randomLength = 30): boolean {
  const expectedLength = prefix.length + 1 + randomLength + 6;
  if (token.length !== expectedLength || !token.startsWith(`${prefix}_`)) return false;
  if (!/^[0-9A-Za-z]+$/.test(token.slice(prefix.length + 1))) return false;
  return endsWithChecksum(token);
}

/**
 * True when `token`, already known to be `<head><6 base62>`, ends in its head's checksum. The
 * checksum is no secret (anyone can compute it from the head), so a plain comparison does: no
 * buffers, no second pass over the characters the caller's pattern has checked.
 */
export function endsWithChecksum(token: string): boolean {
  return token.endsWith(base62Checksum(token.slice(0, -6)));
}

/** Random URL-safe identifier with a readable prefix, e.g. `usr_4fQ...` (not a secret). */
export function newId(prefix: string, length = 20): string {
  return `${prefix}_${randomBase62(length)}`;
}
