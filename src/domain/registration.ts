import { ADMIN_SCOPE, ALL_API_SCOPES, type ApiScope } from './scopes.ts';

/**
 * Dynamic client registration (RFC 7591): `off`, no /oauth/register at all; `open`, anyone may
 * register a public client (PKCE, no secret); `token`, registration needs an initial access token
 * an admin issued, and then confidential clients may register too.
 */
export const REGISTRATION_MODES = ['off', 'open', 'token'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

/** How an application came to be: registered by a person, or by itself at /oauth/register. */
export type RegistrationKind = 'manual' | 'dynamic';

/**
 * A self-registered client's review. `pending` works (an agent goes end to end without a human)
 * but the consent page warns about it; `approved` removes the warning; `rejected` stops it at once.
 */
export const REVIEW_STATES = ['pending', 'approved', 'rejected'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
export const REVIEW_DECISIONS = ['approve', 'reject'] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

/**
 * The account that holds clients registered in `open` mode: nobody registered them, so no person
 * owns them; admins review them. It has no usable password (its hash is not one), so nobody can
 * sign in as it, and deleting it deletes every open-mode client.
 */
export const SELF_REGISTERED_OWNER = {
  id: 'usr_selfregisteredclients',
  email: 'self-registered-clients@latchkey.invalid',
  name: 'Self-registered clients',
} as const;

/** What a self-registered client may be allowed: the /v2 API's scopes, never admin:all. */
export const REGISTRABLE_SCOPES: readonly ApiScope[] = ALL_API_SCOPES.filter((s) => s !== ADMIN_SCOPE);

/** OpenID scopes a registration may name in `scope`; every application may ask for them anyway. */
export const OPENID_REQUEST_SCOPES: readonly string[] = ['openid', 'offline_access', 'email', 'profile'];
