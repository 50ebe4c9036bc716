/**
 * What the API answers, as plain types: the SDK is installed on its own, so it declares the wire
 * format itself instead of borrowing the server's schemas. Times are ISO 8601 strings (UTC);
 * `null` means "not set". The package's tests compare these fields with the server's answers.
 */

/** An API key as listings and lookups show it: never the key itself. */
export interface ApiKey {
  id: string;
  name: string;
  /** The start of the key: enough to recognise it, nothing to use. */
  prefix: string;
  scopes: string[];
  /** Addresses and CIDR ranges the key may be used from; `null` for anywhere. */
  allowed_ips: string[] | null;
  status: 'active' | 'expired' | 'revoked' | 'rotated';
  expires_at: string | null;
  created_at: string;
  last_used_at: string | null;
  last_used_ip: string | null;
  revoked_at: string | null;
  /** After a rotation: the id of the key that replaced this one. */
  replaced_by: string | null;
  /** After a rotation: until when this key keeps working. */
  grace_until: string | null;
  /** Requests per hour and per second; `null` for the server's defaults. */
  rate_limit: { hourly: number; burst: number } | null;
}

/** The answer to creating or rotating a key: the only time the key itself is shown. */
export interface CreatedApiKey extends ApiKey {
  key: string;
}

/** One request made with an API key. */
export interface ApiKeyActivityEntry {
  at: string;
  ip: string;
  method: string;
  path: string;
  status: number;
  request_id: string;
  /** The caller's X-Client-Version header, if it sent one. */
  client_version: string | null;
}

/** A page of a key's activity, newest first; pass a cursor back as `older_than` / `newer_than`. */
export interface ApiKeyActivityPage {
  data: ApiKeyActivityEntry[];
  /** The next page of older entries, or null when there are none. */
  older_cursor: string | null;
  /** The page of newer entries before this one, or null on the newest page. */
  newer_cursor: string | null;
}

/** Filters and cursor of an activity page (times in ISO 8601; `status` a class such as `4xx` or a code). */
export interface ApiKeyActivityQuery {
  limit?: number;
  older_than?: string;
  newer_than?: string;
  status?: string;
  /** Paths starting with this. */
  path?: string;
  from?: string;
  to?: string;
  before?: string;
}

export type ApplicationType = 'web' | 'spa' | 'native' | 'service' | 'resource_server';
/** `public`: `sub` is the account id; `pairwise`: one identifier per redirect host. */
export type SubjectType = 'public' | 'pairwise';

/** An OAuth application (client) registration. */
export interface Application {
  client_id: string;
  name: string;
  type: ApplicationType;
  redirect_uris: string[];
  scopes: string[];
  /** Shown on the consent page when registered (null: none): logo, homepage, privacy policy, terms. */
  logo_uri: string | null;
  client_uri: string | null;
  policy_uri: string | null;
  tos_uri: string | null;
  /** Where /oauth/logout may send a browser back after signing out (exact match). */
  post_logout_redirect_uris: string[];
  /** Receives a logout token when a sign-in to the application ends (null: none). */
  backchannel_logout_uri: string | null;
  /** Whether logout tokens (and ID tokens) must carry the session id, `sid`. */
  backchannel_logout_session_required: boolean;
  /** Whether authorization requests must use PKCE (S256). */
  require_pkce: boolean;
  subject_type: SubjectType;
  /** Whether it may use the device authorization grant (RFC 8628). */
  device_flow: boolean;
  /** `dynamic`: the client registered itself at /oauth/register (RFC 7591); `manual`: a person did. */
  registration: 'manual' | 'dynamic';
  /** A self-registered client's review (null for one a person registered). */
  review_state: 'pending' | 'approved' | 'rejected' | null;
  /** Whether authorization requests must be pushed to /oauth/par first (RFC 9126). */
  require_pushed_authorization_requests: boolean;
  /** Whether every token must be bound to a DPoP key (RFC 9449). */
  require_dpop: boolean;
  /** Browser origins (besides the redirect URIs') whose pages may call the API with its tokens. */
  allowed_origins: string[];
  /** The APIs this application may obtain exchanged tokens for (RFC 8693), by identifier. */
  token_exchange: string[];
  /** A resource_server: the identifier of the API whose tokens it introspects (null for other types). */
  api: string | null;
  created_at: string;
  updated_at: string;
  /** When an administrator suspended it: it works nowhere until unsuspended (null: not suspended). */
  suspended_at: string | null;
}

/** The answer to registering an application: confidential types get their secret, this once. */
export interface RegisteredApplication extends Application {
  client_secret?: string;
}

/** The answer to rotating an application's secret. */
export interface RotatedApplicationSecret extends Application {
  client_secret: string;
  /** When the previous secret stops working (ISO 8601), or null when it already has (no overlap). */
  previous_secret_expires_at: string | null;
}

/** A webhook endpoint: where events are delivered. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  status: 'active' | 'disabled';
  /** Why the server disabled the endpoint (for instance after failing for too long). */
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

/** The answer to creating an endpoint: the signing secret (`whsec_...`), shown this once. */
export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  secret: string;
}

/** The answer to rotating the signing secret: the old one keeps signing until the time given. */
export interface RotatedWebhookSecret extends CreatedWebhookEndpoint {
  previous_secret_expires_at: string;
}

/** One attempt at delivering an event. */
export interface WebhookDeliveryAttempt {
  attempt: number;
  at: string;
  response_code: number | null;
  latency_ms: number;
  error: string | null;
  /** The headers sent (signature values, never the secret); null for attempts recorded before they were kept. */
  request_headers: Record<string, string> | null;
  /** The first KiB of the response body as plain text, control characters removed; null if none. */
  response_excerpt: string | null;
}

/** One event's delivery to one endpoint, with every attempt so far. */
export interface WebhookDelivery {
  id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  error: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  created_at: string;
  /** The exact body sent and signed. */
  request_body: string;
  /** Every attempt, oldest first. */
  attempt_log: WebhookDeliveryAttempt[];
}

/** The answer to sending a test event: the one delivery queued. */
export interface WebhookTestEventQueued {
  queued: true;
  event_id: string;
  delivery_id: string;
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  is_admin: boolean;
  created_at: string;
  updated_at: string;
}

/** A page of users; pass `next_after` as `after` for the next page (`null` on the last one). */
export interface UserPage {
  data: User[];
  next_after: string | null;
}

export interface Project {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

/** An application the signed-in person has granted access to. */
export interface Consent {
  client_id: string;
  /** The application's name. */
  application: string;
  scopes: string[];
  granted_at: string;
  updated_at: string;
}

/** How a credential authenticated, as `/v2/auth/test` reports it. */
export type AuthMethod = 'api_key' | 'oauth' | 'jwt' | 'session';

/**
 * The answer of `client.auth.test()`. A refused credential is an answer, not an exception:
 * `{ valid: false, status, code, message, requestId }`.
 */
export type AuthTestResult =
  | { valid: true; method: AuthMethod; subject: string; scopes: string[]; expires_at: string | null }
  | { valid: false; status: number; code: string; message: string; requestId: string | null };
