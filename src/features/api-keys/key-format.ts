import { endsWithChecksum, mintSecret, randomBase62 } from '../../shared/secrets.ts';

/**
 * API keys look like `lk_<id>_<secret><checksum>`:
 * - `lk_` makes them recognisable to people and secret scanners;
 * - `<id>` (12 base62) is the public id, used for the lookup and shown in listings;
 * - `<secret>` is 30 base62 (~178 bits), `<checksum>` 6 base62 of CRC32 over everything before it,
 *   so a typo or a foreign string is refused before any database work (GitHub's token format).
 */
export const API_KEY_PREFIX = 'lk';
const ID_LENGTH = 12;
const SHAPE = /^lk_([0-9A-Za-z]{12})_[0-9A-Za-z]{36}$/;

export function mintApiKey(): { id: string; key: string } {
  const id = randomBase62(ID_LENGTH);
  return { id, key: mintSecret(`${API_KEY_PREFIX}_${id}`) };
}

/** True when the string is shaped like an API key at all (the authenticator routes on this). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(`${API_KEY_PREFIX}_`);
}

/**
 * The key's public id when its shape and checksum are valid, else null: the pattern checks the
 * prefix, the length and the characters, so only the checksum is left to compare. A remembered
 * key needs neither (its secret's hash decides); a key read from the database needs both.
 */
export function parseApiKey(token: string): string | null {
  const id = apiKeyIdOf(token);
  return id !== null && endsWithChecksum(token) ? id : null;
}

/** The public id of a string shaped like an API key (prefix, lengths, characters), its checksum unchecked. */
export function apiKeyIdOf(token: string): string | null {
  return SHAPE.exec(token)?.[1] ?? null;
}

/** Whether a key-shaped string ends with the checksum of the rest (`parseApiKey` checks both). */
export { endsWithChecksum as hasApiKeyChecksum };

/** What listings show of a key: enough to recognise it, nothing to use. */
export function displayPrefix(id: string): string {
  return `${API_KEY_PREFIX}_${id}_`;
}
