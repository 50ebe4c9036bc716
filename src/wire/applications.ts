import { z } from 'zod';
import {
  APPLICATION_TYPES,
  SUBJECT_TYPES,
  logoutUriProblem,
  originProblem,
  webLinkProblem,
} from '../domain/applications.ts';
import { ALL_API_SCOPES } from '../domain/scopes.ts';
import { REVIEW_DECISIONS, REVIEW_STATES } from '../domain/registration.ts';

/** /oauth/applications on the wire: what registration and updates accept, what the API answers. */
const scopeList = z
  .array(
    z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, {
      message: `each scope must be one of: ${ALL_API_SCOPES.join(', ')}, or a scope of an API you registered`,
    }),
  )
  .max(100, 'at most 100 scopes')
  .transform((s) => [...new Set(s)]);

const name = z.string().trim().min(1, 'name is required').max(100);
const redirectUris = z.array(z.string().max(2000)).max(10, 'at most 10 redirect URIs');

/** A link for the consent page: https (http on loopback), or null to have none. */
const webLink = z
  .string()
  .trim()
  .max(2000)
  .superRefine((uri, ctx) => {
    const problem = webLinkProblem(uri);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .nullable();
/** What the consent page shows besides the name; each optional when registering or updating. */
const links = {
  logo_uri: webLink.optional().describe('Logo shown on the consent page (https; http only on localhost)'),
  client_uri: webLink.optional().describe("The application's homepage, linked from the consent page"),
  policy_uri: webLink.optional().describe('Privacy policy, linked from the consent page'),
  tos_uri: webLink.optional().describe('Terms of service, linked from the consent page'),
};

/** An https logout address (http on loopback), without a fragment. */
const logoutUri = z
  .string()
  .trim()
  .max(2000)
  .superRefine((uri, ctx) => {
    const problem = logoutUriProblem(uri);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
/** Where the application hears of a sign-out (OpenID Connect RP-Initiated and Back-Channel Logout). */
const logout = {
  post_logout_redirect_uris: z
    .array(logoutUri)
    .max(10, 'at most 10 post-logout redirect URIs')
    .optional()
    .describe('Where a browser may be sent back after signing out at /oauth/logout (exact match)'),
  backchannel_logout_uri: logoutUri
    .nullable()
    .optional()
    .describe('Receives a logout token (POST, form-encoded) when a sign-in to this application ends'),
  backchannel_logout_session_required: z
    .boolean()
    .optional()
    .describe('Whether logout tokens and ID tokens must carry the session id (sid)'),
};
/** How the authorization code flow is protected, and which `sub` the application's ID tokens carry. */
const openIdSettings = {
  require_pkce: z
    .boolean()
    .optional()
    .describe('Authorization requests must use PKCE (S256). Always true for spa/native; a web app may turn it off'),
  subject_type: z
    .enum(SUBJECT_TYPES)
    .optional()
    .describe('`public` (default): `sub` is the account id; `pairwise`: an identifier for this host only'),
  device_flow: z
    .boolean()
    .optional()
    .describe('May use the device authorization grant (RFC 8628). Default: true for native, false otherwise'),

  require_pushed_authorization_requests: z
    .boolean()
    .optional()
    .describe('Authorization requests must be pushed to /oauth/par first (RFC 9126); off by default'),
  require_dpop: z
    .boolean()
    .optional()
    .describe('Every token must be bound to a DPoP key (RFC 9449): token requests without a proof are refused'),
};

/** A browser origin: https (http on loopback), scheme, host and port only. */
const origin = z
  .string()
  .trim()
  .max(300)
  .superRefine((value, ctx) => {
    const problem = originProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
/** Who may call the APIs from where, and for which APIs the application may exchange a person's token. */
const apiAccess = {
  allowed_origins: z
    .array(origin)
    .max(10, 'at most 10 allowed origins')
    .transform((o) => [...new Set(o)])
    .optional()
    .describe(
      "Browser origins (besides the redirect URIs') whose pages may call the API with this application's tokens (CORS)",
    ),
  token_exchange: z
    .array(z.string().trim().min(1).max(2000))
    .max(10, 'at most 10 APIs')
    .transform((a) => [...new Set(a)])
    .optional()
    .describe(
      "Identifiers of the APIs this confidential application may obtain tokens for on a person's behalf (RFC 8693)",
    ),
};
/** The API a resource_server application introspects tokens of (its identifier); the built-in one by default. */
const resourceServerApi = z
  .string()
  .max(2000)
  .optional()
  .describe('resource_server only: the identifier of the API it belongs to (default: the built-in /v2 API)');

export const applicationViewSchema = z.object({
  client_id: z.string(),
  name: z.string(),
  type: z.enum(APPLICATION_TYPES),
  redirect_uris: z.array(z.string()),
  scopes: z.array(z.string()),
  logo_uri: z.string().nullable(),
  client_uri: z.string().nullable(),
  policy_uri: z.string().nullable(),
  tos_uri: z.string().nullable(),
  post_logout_redirect_uris: z.array(z.string()),
  backchannel_logout_uri: z.string().nullable(),
  backchannel_logout_session_required: z.boolean(),
  require_pkce: z.boolean(),
  subject_type: z.enum(SUBJECT_TYPES),
  device_flow: z.boolean(),

  registration: z
    .enum(['manual', 'dynamic'])
    .describe('`dynamic`: the client registered itself at /oauth/register (RFC 7591)'),
  review_state: z
    .enum(REVIEW_STATES)
    .nullable()
    .describe("A self-registered client's review (null for one a person registered)"),

  require_pushed_authorization_requests: z.boolean(),
  require_dpop: z.boolean(),

  allowed_origins: z.array(z.string()),
  token_exchange: z.array(z.string()),
  api: z.string().nullable().describe('A resource_server: the identifier of the API whose tokens it introspects'),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  suspended_at: z.iso
    .datetime()
    .nullable()
    .describe('When an administrator suspended it: it works nowhere until unsuspended (null: not suspended)'),
});
/** Registration answers with the client secret (confidential types), this once. */
export const registeredApplicationSchema = applicationViewSchema.extend({ client_secret: z.string().optional() });
export type ApplicationView = z.infer<typeof applicationViewSchema>;
/** Rotation answers with the new secret, this once, and when the old one stops working (null: it already has). */
export const rotatedApplicationSchema = applicationViewSchema.extend({
  client_secret: z.string(),
  previous_secret_expires_at: z.iso.datetime().nullable(),
});

/** The longest overlap a rotation may give the old secret: 7 days. */
export const MAX_SECRET_OVERLAP_SECONDS = 604_800;
/**
 * Rotating the secret (the body is optional): `overlap_seconds` keeps the old secret working beside
 * the new one that long (0, the default: the old secret stops at once).
 */
export const rotateApplicationSecretSchema = z
  .strictObject({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_SECRET_OVERLAP_SECONDS, `overlap_seconds: at most ${MAX_SECRET_OVERLAP_SECONDS} (7 days)`)
      .optional(),
  })
  .optional();
export type RotateApplicationSecretInput = z.infer<typeof rotateApplicationSecretSchema>;

export const createApplicationSchema = z.strictObject({
  name,
  redirect_uris: redirectUris.default([]),
  scopes: scopeList,
  type: z.enum(APPLICATION_TYPES).default('web'),
  api: resourceServerApi,
  ...links,
  ...logout,
  ...openIdSettings,
  ...apiAccess,
});
export type CreateApplicationInput = z.infer<typeof createApplicationSchema>;

export const updateApplicationSchema = z.strictObject({
  name: name.optional(),
  redirect_uris: redirectUris.optional(),
  scopes: scopeList.optional(),
  api: resourceServerApi,
  ...links,
  ...logout,
  ...openIdSettings,
  ...apiAccess,
});
export type UpdateApplicationInput = z.infer<typeof updateApplicationSchema>;

/** Reviewing a self-registered client: approve (the consent page stops warning) or reject (it stops working). */
export const reviewApplicationSchema = z.strictObject({ decision: z.enum(REVIEW_DECISIONS) });
export type ReviewApplicationInput = z.infer<typeof reviewApplicationSchema>;
