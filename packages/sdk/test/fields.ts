import assert from 'node:assert/strict';
import type {
  ApiKey,
  ApiKeyActivityEntry,
  ApiKeyActivityPage,
  Application,
  AuthTestResult,
  Consent,
  CreatedApiKey,
  CreatedWebhookEndpoint,
  Project,
  RegisteredApplication,
  RotatedApplicationSecret,
  RotatedWebhookSecret,
  User,
  UserPage,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  WebhookEndpoint,
  WebhookTestEventQueued,
} from '../src/index.ts';

/**
 * The fields each of the package's wire types declares, listed once. `satisfies` makes the compiler
 * hold every list to its type (a missing or an extra name fails the typecheck); the tests hold the
 * server's answers to the lists, so the SDK's types and the API cannot drift apart unnoticed.
 */
const list = <T>(fields: Record<keyof T, true>) => Object.keys(fields).sort();

const apiKey = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  allowed_ips: true,
  status: true,
  expires_at: true,
  created_at: true,
  last_used_at: true,
  last_used_ip: true,
  revoked_at: true,
  replaced_by: true,
  grace_until: true,
  rate_limit: true,
} satisfies Record<keyof ApiKey, true>;
const application = {
  client_id: true,
  name: true,
  type: true,
  redirect_uris: true,
  scopes: true,
  logo_uri: true,
  client_uri: true,
  policy_uri: true,
  tos_uri: true,
  post_logout_redirect_uris: true,
  backchannel_logout_uri: true,
  backchannel_logout_session_required: true,
  require_pkce: true,
  subject_type: true,
  device_flow: true,
  registration: true,
  review_state: true,
  require_pushed_authorization_requests: true,
  require_dpop: true,
  allowed_origins: true,
  token_exchange: true,
  api: true,
  created_at: true,
  updated_at: true,
  suspended_at: true,
} satisfies Record<keyof Application, true>;
const webhookEndpoint = {
  id: true,
  url: true,
  events: true,
  description: true,
  status: true,
  disabled_reason: true,
  failing_since: true,
  created_at: true,
  updated_at: true,
} satisfies Record<keyof WebhookEndpoint, true>;
const user = {
  id: true,
  email: true,
  name: true,
  is_admin: true,
  created_at: true,
  updated_at: true,
} satisfies Record<keyof User, true>;

export const FIELDS = {
  apiKey: list<ApiKey>(apiKey),
  createdApiKey: list<CreatedApiKey>({ ...apiKey, key: true }),
  apiKeyActivityEntry: list<ApiKeyActivityEntry>({
    at: true,
    ip: true,
    method: true,
    path: true,
    status: true,
    request_id: true,
    client_version: true,
  }),
  application: list<Application>(application),
  // A confidential application's registration: the optional client_secret is there.
  registeredApplication: list<RegisteredApplication>({ ...application, client_secret: true }),
  rotatedApplicationSecret: list<RotatedApplicationSecret>({
    ...application,
    client_secret: true,
    previous_secret_expires_at: true,
  }),
  webhookEndpoint: list<WebhookEndpoint>(webhookEndpoint),
  createdWebhookEndpoint: list<CreatedWebhookEndpoint>({ ...webhookEndpoint, secret: true }),
  rotatedWebhookSecret: list<RotatedWebhookSecret>({
    ...webhookEndpoint,
    secret: true,
    previous_secret_expires_at: true,
  }),
  webhookDelivery: list<WebhookDelivery>({
    id: true,
    event_id: true,
    event_type: true,
    status: true,
    attempts: true,
    response_code: true,
    latency_ms: true,
    error: true,
    last_attempt_at: true,
    next_attempt_at: true,
    delivered_at: true,
    created_at: true,
    request_body: true,
    attempt_log: true,
  }),
  webhookDeliveryAttempt: list<WebhookDeliveryAttempt>({
    attempt: true,
    at: true,
    response_code: true,
    latency_ms: true,
    error: true,
    request_headers: true,
    response_excerpt: true,
  }),
  apiKeyActivityPage: list<ApiKeyActivityPage>({ data: true, older_cursor: true, newer_cursor: true }),
  webhookTestEventQueued: list<WebhookTestEventQueued>({ queued: true, event_id: true, delivery_id: true }),
  user: list<User>(user),
  userPage: list<UserPage>({ data: true, next_after: true }),
  project: list<Project>({
    id: true,
    owner_id: true,
    name: true,
    description: true,
    created_at: true,
    updated_at: true,
  }),
  consent: list<Consent>({
    client_id: true,
    application: true,
    scopes: true,
    granted_at: true,
    updated_at: true,
  }),
  authTestValid: list<Extract<AuthTestResult, { valid: true }>>({
    valid: true,
    method: true,
    subject: true,
    scopes: true,
    expires_at: true,
  }),
} as const;

/** The answer has exactly the fields the type behind `fields` declares, no more, no fewer. */
export function assertFields(answer: unknown, fields: readonly string[], what: string): void {
  assert.ok(answer !== null && typeof answer === 'object', `${what}: not an object`);
  assert.deepEqual(Object.keys(answer).sort(), fields, `${what}: the fields differ from the SDK's type`);
}
