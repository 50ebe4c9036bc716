import type { z } from 'zod';
import type { ApiKeyView, apiKeyActivitySchema } from '../wire/api-keys.ts';
import type { ApplicationView } from '../wire/applications.ts';
import type { ConsentView } from '../wire/consents.ts';
import type { EndpointView, deliveryViewSchema } from '../wire/webhooks.ts';
import type { ProjectView } from '../wire/projects.ts';
import type { UserView } from '../wire/users.ts';

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
  type?: ApplicationView['type'];
}
export interface CreateWebhook {
  url: string;
  events: string[];
  description?: string | null;
}
/** A delivery in the log, as the server describes it (same schema as the API's). */
export type WebhookDelivery = z.infer<typeof deliveryViewSchema>;
export type ApiKeyActivityEntry = z.infer<typeof apiKeyActivitySchema>['data'][number];

/** The API's resources, each a thin typed layer over `request`. Lists unwrap `{data: [...]}`. */
export function createResources(request: Request) {
  const list = async <T>(path: string, query?: Record<string, string | number | undefined>) =>
    (await request<List<T>>('GET', path, undefined, query)).data;
  return {
    apiKeys: {
      create: (input: CreateApiKey) => request<ApiKeyView & { key: string }>('POST', '/v2/api-keys', input),
      list: () => list<ApiKeyView>('/v2/api-keys'),
      get: (id: string) => request<ApiKeyView>('GET', `/v2/api-keys/${enc(id)}`),
      revoke: (id: string) => request<ApiKeyView>('DELETE', `/v2/api-keys/${enc(id)}`),
      rotate: (id: string) => request<ApiKeyView & { key: string }>('POST', `/v2/api-keys/${enc(id)}/rotate`),
      activity: (id: string, opts: { limit?: number; before?: string } = {}) =>
        list<ApiKeyActivityEntry>(`/v2/api-keys/${enc(id)}/activity`, opts),
    },
    applications: {
      create: (input: CreateApplication) =>
        request<ApplicationView & { client_secret?: string }>('POST', '/oauth/applications', input),
      list: () => list<ApplicationView>('/oauth/applications'),
      get: (clientId: string) => request<ApplicationView>('GET', `/oauth/applications/${enc(clientId)}`),
      update: (clientId: string, changes: Partial<Pick<CreateApplication, 'name' | 'redirect_uris' | 'scopes'>>) =>
        request<ApplicationView>('PATCH', `/oauth/applications/${enc(clientId)}`, changes),
      delete: (clientId: string) => request<void>('DELETE', `/oauth/applications/${enc(clientId)}`),
      rotateSecret: (clientId: string) =>
        request<ApplicationView & { client_secret: string }>('POST', `/oauth/applications/${enc(clientId)}/secret`),
    },
    webhooks: {
      create: (input: CreateWebhook) => request<EndpointView & { secret: string }>('POST', '/v2/webhooks', input),
      list: () => list<EndpointView>('/v2/webhooks'),
      get: (id: string) => request<EndpointView>('GET', `/v2/webhooks/${enc(id)}`),
      update: (id: string, changes: Partial<CreateWebhook> & { status?: 'active' | 'disabled' }) =>
        request<EndpointView>('PATCH', `/v2/webhooks/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/webhooks/${enc(id)}`),
      rotateSecret: (id: string) =>
        request<EndpointView & { secret: string; previous_secret_expires_at: string }>(
          'POST',
          `/v2/webhooks/${enc(id)}/secret`,
        ),
      deliveries: (id: string, opts: { limit?: number } = {}) =>
        list<WebhookDelivery>(`/v2/webhooks/${enc(id)}/deliveries`, opts),
      redeliver: (id: string, deliveryId: string) =>
        request<{ queued: true }>('POST', `/v2/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/redeliver`),
    },
    users: {
      me: () => request<UserView>('GET', '/v2/users/me'),
      list: (opts: { limit?: number; after?: string } = {}) =>
        request<{ data: UserView[]; next_after: string | null }>('GET', '/v2/users', undefined, opts),
      get: (id: string) => request<UserView>('GET', `/v2/users/${enc(id)}`),
      create: (input: { email: string; password: string; name?: string | null; is_admin?: boolean }) =>
        request<UserView>('POST', '/v2/users', input),
      // Profile fields only: a password or an email is changed by the person, in the browser.
      update: (id: string, changes: { name?: string | null; is_admin?: boolean }) =>
        request<UserView>('PATCH', `/v2/users/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/users/${enc(id)}`),
    },
    projects: {
      list: (opts: { limit?: number; offset?: number } = {}) => list<ProjectView>('/v2/projects', opts),
      create: (input: { name: string; description?: string | null }) =>
        request<ProjectView>('POST', '/v2/projects', input),
      get: (id: string) => request<ProjectView>('GET', `/v2/projects/${enc(id)}`),
      update: (id: string, changes: { name?: string; description?: string | null }) =>
        request<ProjectView>('PATCH', `/v2/projects/${enc(id)}`, changes),
      delete: (id: string) => request<void>('DELETE', `/v2/projects/${enc(id)}`),
    },
    consents: {
      list: () => list<ConsentView>('/v2/consents'),
      revoke: (clientId: string) => request<void>('DELETE', `/v2/consents/${enc(clientId)}`),
    },
  };
}
