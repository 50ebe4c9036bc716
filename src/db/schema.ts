import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * The typed shape of every table. Times are epoch milliseconds; JSON columns hold text that only
 * the owning repository parses. Only repositories import this file.
 */
export interface Database {
  users: UsersTable;
  browser_sessions: BrowserSessionsTable;
  applications: ApplicationsTable;
  consents: ConsentsTable;
  oidc_payloads: OidcPayloadsTable;
  server_secrets: ServerSecretsTable;
  api_keys: ApiKeysTable;
  api_key_activity: ApiKeyActivityTable;
  projects: ProjectsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  recovery_codes: RecoveryCodesTable;
  webhook_attempts: WebhookAttemptsTable;
  credential_events: CredentialEventsTable;
  email_outbox: EmailOutboxTable;
  email_links: EmailLinksTable;
  shown_once_secrets: ShownOnceSecretsTable;
  passkeys: PasskeysTable;
  passkey_challenges: PasskeyChallengesTable;
  registration_tokens: RegistrationTokensTable;
  setup_tokens: SetupTokensTable;
  audit_events: AuditEventsTable;
  apis: ApisTable;
  api_scopes: ApiScopesTable;
}

/** The audit trail (see features/audit): append-only, one row per security-relevant event. */
export interface AuditEventsTable {
  /** Orders the trail; the keyset-pagination cursor. */
  seq: Generated<number>;
  /** Public id (`aud_…`), also the id of its webhook event. */
  id: string;
  /** One of AUDIT_TYPES (domain/audit.ts). */
  type: string;
  /** user (a browser session), api_key, oauth, jwt, client, cli, system or anonymous. */
  actor_type: string;
  /** The credential or account that acted: an API key id, a client id, a JWT subject, an account id. */
  actor_id: string | null;
  /** The account on whose behalf the actor acted, when there is one. */
  actor_account_id: string | null;
  /** Who the actor was, readable after the account is gone (its email at the time). */
  actor_label: string | null;
  /** Whose trail the event belongs to: the account it concerns (null: the server itself). */
  account_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  /** JSON object with what else the event type records (a reason, a name, scopes…). */
  data: string;
  created_at: number;
}

/** First-run setup links (see features/setup); only the token's SHA-256 is kept. */
export interface SetupTokensTable {
  token_hash: string;
  created_at: number;
  expires_at: number;
}

/** APIs (resource servers) registered by owners; the built-in /v2 API has no row. */
export interface ApisTable {
  id: string;
  owner_id: string;
  /** Absolute URL, unique: the RFC 8707 `resource` and the access token audience. */
  identifier: string;
  name: string;
  /** `opaque` or `jwt`. */
  access_token_format: string;
  /** Access token lifetime, seconds. */
  access_token_ttl: number;
  created_at: number;
  updated_at: number;
}

/** A registered API's scopes; a name is unique across every API (applications list names alone). */
export interface ApiScopesTable {
  name: string;
  api_id: string;
  description: string;
  /** Order within its API, as registered. */
  position: number;
}

/** Single-use links sent by email; only the token's SHA-256 is kept (see features/accounts/email-links). */
export interface EmailLinksTable {
  token_hash: string;
  user_id: string;
  /** What the link does: `verify_email`, `reset_password`, `change_email`. */
  purpose: string;
  /** The address the link was sent to, and proves when used. */
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** Mail waiting to be sent (see features/email): one row a message, kept as the record once settled. */
export interface EmailOutboxTable {
  id: string;
  recipient: string;
  /** The template it was rendered from (`test`, ...): what the row is about, without opening it. */
  template: string;
  /** Subject, text and HTML as JSON, sealed with SECRETS_KEY; null once sent or given up. */
  message_enc: string | null;
  /** `pending`, `sent` or `failed` (given up). */
  status: string;
  attempts: number;
  next_attempt_at: number;
  /** A sender holds the message until then; a crashed sender's claim runs out by itself. */
  claimed_until: number | null;
  sent_at: number | null;
  last_error: string | null;
  created_at: number;
}

/** Credential changes for other instances to hear (see credential-relay.ts); pruned after minutes. */
export interface CredentialEventsTable {
  id: Generated<number>;
  /** The instance that published it (it applied the event itself already). */
  origin: string;
  kind: string;
  /** The key, account or application id; null for `tokens`. */
  subject: string | null;
  created_at: number;
}

export interface WebhookAttemptsTable {
  delivery_id: string;
  /** 1 for the first attempt. */
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  /** The headers sent, as JSON (signature values, never a secret); null for attempts before 0034. */
  request_headers: string | null;
  /** The first KiB of the response body as text, control characters removed; null if none was read. */
  response_excerpt: string | null;
}

export interface UsersTable {
  id: string;
  /** Lower-cased; unique. */
  email: string;
  /** argon2id encoded hash (parameters inside). */
  password_hash: string;
  name: string | null;
  is_admin: number;
  created_at: number;
  updated_at: number;
  /** TOTP secret sealed with SECRETS_KEY; set once 2FA is confirmed. */
  totp_secret_enc: string | null;
  /** Sealed secret shown during enrollment, until the first code confirms it. */
  totp_pending_secret_enc: string | null;
  totp_enabled_at: number | null;
  /** The last accepted TOTP time step: a code is accepted only for a later step (no replay). */
  totp_last_step: number | null;
  /** Completed sign-ins: the sign-in throttle's counters start afresh with each one. */
  sign_in_count: Generated<number>;
  /** When the current address was proven by an emailed link; null until then. */
  email_verified_at: number | null;
  /** 1: reads the operators' console and the audit trail, changes nothing. */
  is_auditor: Generated<number>;
  /** When an admin disabled the account: every credential of it stops; null while it is enabled. */
  disabled_at: number | null;
}

export interface RecoveryCodesTable {
  code_hash: string;
  user_id: string;
  used_at: number | null;
  created_at: number;
}

/** Dashboard sign-in sessions. The cookie holds the raw id; only its SHA-256 is stored. */
export interface BrowserSessionsTable {
  id_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  /** When this browser last authenticated interactively (sign-in or re-confirmation): sudo mode. */
  authenticated_at: number | null;
  /** The session's handle in Settings → Sessions forms (null only for sessions older than it). */
  public_id: string | null;
  /** The browser's User-Agent at sign-in, capped in length. */
  user_agent: string | null;
  /** The address the session was last used from. */
  ip: string | null;
  /** When the session was last used, to the minute (epoch ms; null: not since sign-in). */
  last_seen_at: number | null;
  /** SHA-256 of the uid of the oidc-provider session signed in with it, ended with it. */
  provider_session_uid_hash: string | null;
  /** How it was signed in: RFC 8176 `amr` words, space-separated (`pwd`, `pwd otp`, `hwk`); null: not recorded. */
  amr: string | null;
}

/** WebAuthn credentials (see features/passkeys); deleted with their account. */
export interface PasskeysTable {
  id: string;
  user_id: string;
  /** The credential id as the authenticator gave it, base64url; unique across every account. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  /** The authenticator's signature counter (0 for those that keep none). */
  counter: number;
  /** JSON array of transports (`internal`, `usb`, `hybrid`...) the browser reported; null: none. */
  transports: string | null;
  /** `singleDevice` or `multiDevice` (a synced passkey). */
  device_type: string;
  /** 1 when the credential is backed up (synced) now. */
  backed_up: number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

/** A WebAuthn ceremony's challenge, waiting for its answer: taken (deleted) once, whatever the outcome. */
export interface PasskeyChallengesTable {
  /** SHA-256 of the challenge (base64url) the browser was given. */
  challenge_hash: string;
  /** `register` or `authenticate`. */
  purpose: string;
  /** The account registering a passkey; null for a sign-in (the passkey names its account). */
  user_id: string | null;
  /** SHA-256 of the CSRF token of the browser that asked: only that browser may answer it. */
  browser_hash: string;
  expires_at: number;
}

export interface ApplicationsTable {
  client_id: string;
  owner_id: string;
  name: string;
  /** web | spa | native | service | resource_server */
  type: string;
  /** JSON array of exact redirect URIs. */
  redirect_uris: string;
  /** JSON array of the API scopes this application may request. */
  scopes: string;
  /** SHA-256 (hex) of the client secret; null for public applications. */
  secret_hash: string | null;
  /** SHA-256 (hex) of the secret before the last rotation, while it still works (the overlap). */
  previous_secret_hash: string | null;
  /** When the previous secret stops working (epoch ms); null: no overlap. */
  previous_secret_expires_at: number | null;
  created_at: number;
  updated_at: number;
  /** Shown on the consent page when registered (https, or http on loopback): logo, homepage, policies. */
  logo_uri: string | null;
  client_uri: string | null;
  policy_uri: string | null;
  tos_uri: string | null;
  /** JSON array of the exact URIs a browser may return to after RP-initiated logout. */
  post_logout_redirect_uris: string;
  /** Receives logout tokens when a sign-in to this application ends (null: none registered). */
  backchannel_logout_uri: string | null;
  /** 1: logout tokens must carry `sid` (and ID tokens too); 0: `sub` is enough. */
  backchannel_logout_session_required: number;
  /** 1: the authorization code flow must use PKCE (always 1 for public clients); 0: optional (web only). */
  require_pkce: number;
  /** OpenID subject type: `public` (the account id) or `pairwise` (one identifier per sector). */
  subject_type: string;
  /** 1: may use the device authorization grant (RFC 8628; the default for native applications). */
  device_flow: number;

  /** `manual` (dashboard, CLI, API) or `dynamic` (registered itself at /oauth/register). */
  registration: string;
  /** A self-registered client's review: pending | approved | rejected (null: registered by a person). */
  review_state: string | null;
  /** SHA-256 (hex) of the registration access token (RFC 7592); null unless self-registered. */
  registration_token_hash: string | null;
  /** The initial access token (its id) a client registered with, in `token` mode. */
  registered_with: string | null;
  /** 1: authorization requests must be pushed first (PAR, RFC 9126); 0: optional. */
  require_pushed_authorization_requests: number;
  /** 1: every token must be bound to a DPoP key (RFC 9449); 0: bound only when the client sends a proof. */
  require_dpop: number;
  /** JSON array of extra origins (besides the redirect URIs') whose pages may call the APIs (CORS). */
  allowed_origins: string;
  /** JSON array of the API identifiers this application may obtain exchanged tokens for (RFC 8693). */
  token_exchange: string;
  /** A resource_server's API (its identifier); null: the built-in /v2 API. */
  api: string | null;
  /** When an administrator suspended it (epoch ms): no client at all until unsuspended; null: not suspended. */
  suspended_at: number | null;
}

/** Initial access tokens for dynamic registration (RFC 7591 §3): only the token's SHA-256 is kept. */
export interface RegistrationTokensTable {
  id: string;
  token_hash: string;
  /** The admin who issued it: owns the clients registered with it. */
  created_by: string;
  created_at: number;
  /** Epoch ms; null: does not expire. */
  expires_at: number | null;
  /** How many registrations it allows; null: any number. */
  max_uses: number | null;
  uses: Generated<number>;
}

/** What a user granted an application, remembered across browser sessions. */
export interface ConsentsTable {
  user_id: string;
  client_id: string;
  /** oidc-provider Grant id (not a credential: tokens are needed to act). */
  grant_id: string;
  /** JSON array of the granted API scopes. */
  scopes: string;
  created_at: number;
  updated_at: number;
}

/**
 * oidc-provider's models (tokens, codes, sessions, grants, interactions ...). Every lookup key is
 * stored as its SHA-256, and the raw token id is stripped from `payload`, so a dump holds no
 * usable token.
 */
export interface OidcPayloadsTable {
  type: string;
  id_hash: string;
  payload: string;
  grant_id_hash: string | null;
  /** The client the artifact was issued to, so deleting an application can revoke its tokens. */
  client_id: string | null;
  uid_hash: string | null;
  user_code_hash: string | null;
  expires_at: number | null;
  consumed_at: number | null;
  /** The account of a Session row (null for every other model), so its sessions can be ended. */
  account_id: string | null;
}

/** Generated-once server material: signing keys (JWKS), cookie keys. */
export interface ServerSecretsTable {
  name: string;
  value: string;
  created_at: number;
}

/** API keys. The key itself is never stored: only its SHA-256 (keys are high-entropy). */
export interface ApiKeysTable {
  /** Public id, part of the key string, used for the lookup. */
  id: string;
  user_id: string;
  name: string;
  secret_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  /** JSON array of CIDRs, or null for any address. */
  allowed_ips: string | null;
  expires_at: number | null;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  last_used_ip: string | null;
  /** Set when rotated: the key that replaced this one. */
  replaced_by: string | null;
  /** Set when rotated: this key is refused after this time. */
  grace_until: number | null;
  /** The key's own limits, or null for the default (RATE_LIMIT_API_KEY). */
  rate_limit_hourly: number | null;
  rate_limit_burst: number | null;
}

export interface ApiKeyActivityTable {
  id: string;
  key_id: string;
  at: number;
  ip: string;
  method: string;
  path: string;
  status: number;
  request_id: string;
  client_version: string | null;
}

export interface ProjectsTable {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookEndpointsTable {
  id: string;
  user_id: string;
  url: string;
  /** JSON array of event types, or ["*"]. */
  events: string;
  description: string | null;
  /** The signing secret, sealed with SECRETS_KEY (it must be used again to sign). */
  secret_enc: string;
  /** After a rotation, the old secret keeps signing (alongside) until previous_secret_until. */
  previous_secret_enc: string | null;
  previous_secret_until: number | null;
  /** active | disabled */
  status: string;
  disabled_reason: string | null;
  /** When the current run of failures began (null after any success). */
  failing_since: number | null;
  /** When a delivery to it was last claimed: the pool serves the least recently served account first. */
  last_claimed_at: number | null;
  created_at: number;
  updated_at: number;
}

/** The outbox. `body` is exactly the JSON that is delivered and signed. */
export interface WebhookEventsTable {
  id: string;
  /** The account whose endpoints receive it (null: admin endpoints only, e.g. user.signed_up). */
  user_id: string | null;
  type: string;
  body: string;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  /** pending | succeeded | failed */
  status: string;
  attempts: number;
  next_attempt_at: number;
  /** A worker holds the delivery until then (claims expire, so a crash loses nothing). */
  locked_until: number | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
  created_at: number;
}

/** A secret between the form post that made it and the one page view that shows it. */
export interface ShownOnceSecretsTable {
  /** The browser session it was made in (SHA-256 of the session id); only that session may see it. */
  session_id_hash: string;
  /** What it is: api-key | client-secret | webhook-secret. */
  purpose: string;
  /** The key, application or endpoint it belongs to. */
  subject_id: string;
  /** The secret and what the page says about it, as JSON sealed with SECRETS_KEY. */
  sealed: string;
  expires_at: number;
}

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ApiKeyActivityRow = Selectable<ApiKeyActivityTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ApplicationRow = Selectable<ApplicationsTable>;
export type RegistrationTokenRow = Selectable<RegistrationTokensTable>;
export type ApplicationUpdate = Updateable<ApplicationsTable>;
export type ConsentRow = Selectable<ConsentsTable>;
export type ApiRow = Selectable<ApisTable>;
export type ApiUpdate = Updateable<ApisTable>;
export type ApiScopeRow = Selectable<ApiScopesTable>;
