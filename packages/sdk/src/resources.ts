import type {
  ApiKey,
  ApiKeyActivityEntry,
  ApiKeyActivityPage,
  ApiKeyActivityQuery,
  Application,
  ApplicationType,
  Consent,
  CreatedApiKey,
  CreatedWebhookEndpoint,
  Project,
  RegisteredApplication,
  RotatedApplicationSecret,
  RotatedWebhookSecret,
  SubjectType,
  User,
  UserPage,
  WebhookDelivery,
  WebhookTestEventQueued,
  WebhookEndpoint,
} from './types.js';

type Request = <T>(
  method: string,
  path: string,
  body?: unknown,
  query?: Record<string, string | number | undefined>,
) => Promise<T>;
type List<T> = { data: T[] };
const enc = encodeURIComponent;

export interface CreateApiKey {
  name: string;
  scopes: string[];
  expires_at?: string | null;
  allowed_ips?: string[] | null;
  rate_limit?: { hourly: number; burst: number } | null;
}
export interface CreateApplication {
  name: string;
  redirect_uris?: string[];
  scopes: string[];
  type?: ApplicationType;
  /** For the consent page: https URLs (http only on loopback); null removes one on update. */
  logo_uri?: string | null;
  client_uri?: string | null;
  policy_uri?: string | null;
  tos_uri?: string | null;
  /** Sign-out (OpenID Connect): where /oauth/logout may return, and where logout tokens go (https). */
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string | null;
  backchannel_logout_session_required?: boolean;
  /** Authorization requests must use PKCE (always true for spa/native; default false for web). */
  require_pkce?: boolean;
  /** `pairwise`: ID tokens and userinfo name the person with an identifier for this redirect host only. */
  subject_type?: SubjectType;
  /** May use the device authorization grant (default: true for native, false otherwise). */
  device_flow?: boolean;
  /** Authorization requests must be pushed to /oauth/par first (RFC 9126); off by default. */
  require_pushed_authorization_requests?: boolean;
  /** Token requests must carry a DPoP proof, so every token is bound to the app's key (RFC 9449). */
  require_dpop?: boolean;
  /** Browser origins (besides the redirect URIs') whose pages may call the API with its tokens (CORS). */
  allowed_origins?: string[];
  /** Identifiers of the APIs this confidential application may exchange a person's token for (RFC 8693). */
  token_exchange?: string[];
  /** resource_server only: the identifier of the API it belongs to (default: the built-in /v2 API). */
  api?: string;
}
/** What an update may change: everything but the type. */
export type ApplicationChanges = Partial<Omit<CreateApplication, 'type'>>;
export interface CreateWebhook {
  url: string;
  events: string[];
  description?: string | null;
}

/** The API's resources, each a thin typed layer over `request`. Lists unwrap `{data: [...]}`. */
export function createResources(request: Request) {
  const list = async <T>(path: string, query?: Record<string, string | number | undefined>) =>
    (await request<List<T>>('GET', path, undefined, query)).data;
  return {
    apiKeys: {
      create: (input: CreateApiKey) => request<CreatedApiKey>('POST', '/v2/api-keys', input),
      list: () => list<ApiKey>('/v2/api-keys'),
      get: (id: string) => request<ApiKey>('GET', `/v2/api-keys/${enc(id)}`),
      revoke: (id: string) => request<ApiKey>('DELETE', `/v2/api-keys/${enc(id)}`),
      /** A new key; it keeps the old key's expiry unless `expires_at` gives another (null: none). */
      rotate: (id: string, opts: { expires_at?: string | null } = {}) =>
        request<CreatedApiKey>('POST', `/v2/api-keys/${enc(id)}/rotate`, opts),
      activity: (id: string, opts: { limit?: number; before?: string } = {}) =>
        list<ApiKeyActivityEntry>(`/v2/api-keys/${enc(id)}/activity`, opts),
      /** One page of activity with its cursors, filtered (status, path prefix, time range). */
      activityPage: (id: string, query: ApiKeyActivityQuery = {}) =>
        request<ApiKeyActivityPage>('GET', `/v2/api-keys/${enc(id)}/activity`, undefined, { ...query }),
    },
    applications: {
      create: (input: CreateApplication) => request<RegisteredApplication>('POST', '/oauth/applications', input),
      list: () => list<Application>('/oauth/applications'),
      get: (clientId: string) => request<Application>('GET', `/oauth/applications/${enc(clientId)}`),
      update: (clientId: string, changes: ApplicationChanges) =>
        request<Application>('PATCH', `/oauth/applications/${enc(clientId)}`, changes),
      delete: (clientId: string) => request<void>('DELETE', `/oauth/applications/${enc(clientId)}`),
      /** A new secret; the old one keeps working for `overlap_seconds` (default 0: it stops at once). */
      rotateSecret: (clientId: string, opts: { overlap_seconds?: number } = {}) =>
        request<RotatedApplicationSecret>('POST', `/oauth/applications/${enc(clientId)}/secret`, opts),
    },
    webhooks: {
      create: (input: CreateWebhook) => request<CreatedWebhookEndpoint>('POST', '/v2/webhooks', input),
      list: () => list<WebhookEndpoint>('/v2/webhooks'),
      get: (id: string) => request<WebhookEndpoint>('GET', `/v2/webhooks/${enc(id)}`),
      update: (id: string, changes: Partial<CreateWebhook> & { status?: 'active' | 'disabled' }) =>
        request<WebhookEndpoint>('PATCH', `/v2/webhooks/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/webhooks/${enc(id)}`),
      rotateSecret: (id: string) => request<RotatedWebhookSecret>('POST', `/v2/webhooks/${enc(id)}/secret`),
      deliveries: (id: string, opts: { limit?: number } = {}) =>
        list<WebhookDelivery>(`/v2/webhooks/${enc(id)}/deliveries`, opts),
      delivery: (id: string, deliveryId: string) =>
        request<WebhookDelivery>('GET', `/v2/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}`),
      /** A queued delivery's next attempt, now (a delivered or failed one: `redeliver`). */
      retry: (id: string, deliveryId: string) =>
        request<{ queued: true }>('POST', `/v2/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/retry`),
      /** Queues a signed `webhook.test` event to this endpoint only. */
      sendTestEvent: (id: string) => request<WebhookTestEventQueued>('POST', `/v2/webhooks/${enc(id)}/test`),
      redeliver: (id: string, deliveryId: string) =>
        request<{ queued: true }>('POST', `/v2/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`),
    },
    users: {
      me: () => request<User>('GET', '/v2/users/me'),
      list: (opts: { limit?: number; after?: string } = {}) => request<UserPage>('GET', '/v2/users', undefined, opts),
      get: (id: string) => request<User>('GET', `/v2/users/${enc(id)}`),
      create: (input: { email: string; password: string; name?: string | null; is_admin?: boolean }) =>
        request<User>('POST', '/v2/users', input),
      // Profile fields only: a password or an email is changed by the person, in the browser.
      update: (id: string, changes: { name?: string | null; is_admin?: boolean }) =>
        request<User>('PATCH', `/v2/users/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/users/${enc(id)}`),
    },
    projects: {
      list: (opts: { limit?: number; offset?: number } = {}) => list<Project>('/v2/projects', opts),
      create: (input: { name: string; description?: string | null }) => request<Project>('POST', '/v2/projects', input),
      get: (id: string) => request<Project>('GET', `/v2/projects/${enc(id)}`),
      update: (id: string, changes: { name?: string; description?: string | null }) =>
        request<Project>('PATCH', `/v2/projects/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/projects/${enc(id)}`),
    },
    consents: {
      list: () => list<Consent>('/v2/consents'),
      revoke: (clientId: string) => request<void>('DELETE', `/v2/consents/${enc(clientId)}`),
    },
  };
}
