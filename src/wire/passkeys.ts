import { z } from 'zod';

/** base64url text, as WebAuthn's JSON encodes bytes; capped well above any real credential's field. */
const base64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');

/** What the person calls a passkey in Settings → Security ("Work laptop", "Phone"). */
export const passkeyNameSchema = z
  .string()
  .trim()
  .min(1, 'Give the passkey a name, such as "Work laptop"')
  .max(60, 'A passkey name is at most 60 characters');

/**
 * A browser's answer to `navigator.credentials.create()` (RegistrationResponseJSON). Only what the
 * verification reads is kept; the attestation is `none`, so the answer is small.
 */
export const registrationResponseSchema = z.object({
  id: base64url(1400),
  rawId: base64url(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url(4096),
    attestationObject: base64url(8192),
    transports: z.array(z.string().max(32)).max(10).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
export type RegistrationResponse = z.infer<typeof registrationResponseSchema>;

/** A browser's answer to `navigator.credentials.get()` (AuthenticationResponseJSON). */
export const authenticationResponseSchema = z.object({
  id: base64url(1400),
  rawId: base64url(1400),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url(4096),
    authenticatorData: base64url(4096),
    signature: base64url(2048),
    userHandle: base64url(128).optional(),
  }),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
});
export type AuthenticationResponse = z.infer<typeof authenticationResponseSchema>;

/**
 * A form field carrying one of those answers as JSON text (the page's script fills it in and
 * submits the form, so the answer travels with the form's CSRF token).
 */
export const credentialField = <S extends z.ZodType>(schema: S) =>
  z
    .string()
    .max(14_000)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'The passkey answer is not readable. Try again.' });
        return z.NEVER;
      }
    })
    .pipe(schema);
