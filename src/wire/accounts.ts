import { z } from 'zod';

/** An email as accounts keep it: trimmed, lower-cased, checked. */
export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Enter a valid email address' }))
  .transform((e) => e.toLowerCase());

/** The length rule of a password (NIST SP 800-63B: long passphrases welcome, no composition rules). */
export const PASSWORD_MIN_LENGTH = 10;
/**
 * Counted in UTF-16 code units, as sign-in cuts what it is sent (a longer password is never
 * stored, so cutting it costs nobody a match and bounds the hashing work).
 */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * A password's length, said with the field's label ("Password", "New password"). The minimum is
 * counted in code points, so "🔑" is one character, as a person counts it; `.min` in code units
 * goes first only so the OpenAPI document states a minLength.
 */
export const passwordLengthSchema = (label: string) => {
  const tooShort = `${label} must be at least ${PASSWORD_MIN_LENGTH} characters`;
  return z
    .string()
    .min(PASSWORD_MIN_LENGTH, tooShort)
    .max(PASSWORD_MAX_LENGTH, `${label} must be at most ${PASSWORD_MAX_LENGTH} characters`)
    .refine((p) => [...p].length >= PASSWORD_MIN_LENGTH, tooShort);
};

/**
 * The password field of a request. Its strength (common passwords, the person's own email or name)
 * is checked by the accounts service's password policy, which needs dictionaries the wire does not load.
 */
export const passwordSchema = passwordLengthSchema('Password');
