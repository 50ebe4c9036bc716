import { z } from 'zod';

/** An email as accounts keep it: trimmed, lower-cased, checked. */
export const emailSchema = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'Enter a valid email address' }))
  .transform((e) => e.toLowerCase());

// NIST SP 800-63B: at least 8 characters, allow long passphrases, no composition rules.
export const passwordSchema = z
  .string()
  .min(8, 'Password must be at least 8 characters')
  .max(256, 'Password must be at most 256 characters');
