import { z } from 'zod';
import { SUBJECT_TYPES } from '../domain/applications.ts';

/**
 * Client metadata as RFC 7591 §2 (and OpenID Connect Dynamic Registration) send it. Members
 * Latchkey does not use are ignored (RFC 7591 §2: "the authorization server MUST ignore any client
 * metadata sent by the client that it does not understand"); the shapes of those it uses are
 * checked here, their values by the applications' own rules.
 */
const uri = z.string().max(2000);
const uriList = z.array(uri).max(10, 'at most 10 URIs');
export const clientMetadataSchema = z.object({
  redirect_uris: uriList.optional(),
  client_name: z.string().trim().min(1, 'client_name must not be empty').max(100).optional(),
  token_endpoint_auth_method: z.string().max(100).optional(),
  grant_types: z.array(z.string().max(200)).max(10).optional(),
  response_types: z.array(z.string().max(200)).max(10).optional(),
  application_type: z.enum(['web', 'native']).optional(),
  scope: z.string().max(2000).optional(),
  logo_uri: uri.optional(),
  client_uri: uri.optional(),
  policy_uri: uri.optional(),
  tos_uri: uri.optional(),
  post_logout_redirect_uris: uriList.optional(),
  backchannel_logout_uri: uri.optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  subject_type: z.enum(SUBJECT_TYPES).optional(),
  /** RFC 7592 §2.2: an update names the client it updates, and may repeat its secret. */
  client_id: z.string().max(200).optional(),
  client_secret: z.string().max(200).optional(),
});
export type ClientMetadataInput = z.infer<typeof clientMetadataSchema>;

/** Issuing an initial access token: how long it lasts (none: until revoked) and how many registrations it allows. */
export const createRegistrationTokenSchema = z.strictObject({
  expires_in: z
    .number()
    .int()
    .min(60)
    .max(366 * 86_400)
    .optional()
    .describe('Seconds until it expires (60 to 366 days); omitted: it does not expire'),
  max_uses: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .describe('How many clients may register with it; omitted: any number'),
});
export type CreateRegistrationTokenInput = z.infer<typeof createRegistrationTokenSchema>;

export const registrationTokenViewSchema = z.object({
  id: z.string(),
  created_by: z.string(),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime().nullable(),
  max_uses: z.number().int().nullable(),
  uses: z.number().int(),
});
export type RegistrationTokenView = z.infer<typeof registrationTokenViewSchema>;
/** Issuing answers with the token itself, this once: only its hash is kept. */
export const issuedRegistrationTokenSchema = registrationTokenViewSchema.extend({ token: z.string() });
