import type { DB } from '../../src/db/client.ts';
import { createAccountsRepo, type AccountsRepo } from '../../src/features/accounts/accounts.repo.ts';
import type { ApiKeysRepo } from '../../src/features/api-keys/api-keys.repo.ts';
import { createApplicationsRepo, type ApplicationsRepo } from '../../src/features/applications/applications.repo.ts';
import type { ConsentsRepo } from '../../src/features/consents/consents.repo.ts';
import type { ProjectsRepo } from '../../src/features/projects/projects.repo.ts';
import type { WebhooksRepo } from '../../src/features/webhooks/webhooks.repo.ts';
import { freshId } from './contract.ts';

// Rows as the repositories take and give them (their own signatures, not the table types).
export type NewUserRow = Parameters<AccountsRepo['insert']>[0];
export type UserRow = NonNullable<Awaited<ReturnType<AccountsRepo['findById']>>>;
export type ApplicationRow = Parameters<ApplicationsRepo['insert']>[0];
export type ApiKeyRow = Parameters<ApiKeysRepo['insert']>[0];
export type ApiKeyActivityRow = Parameters<ApiKeysRepo['recordUsage']>[0][number];
export type ProjectRow = Parameters<ProjectsRepo['insert']>[0];
export type WebhookEndpointRow = Parameters<WebhooksRepo['insertEndpointWithin']>[0];
export type ConsentRow = Parameters<ConsentsRepo['upsert']>[0];

/**
 * Complete rows for the contract suites, every column given, with fresh ids: a suite overrides what
 * its test is about. Parents are inserted through their own repositories.
 */
const T0 = 1_700_000_000_000;

export function userRow(over: Partial<NewUserRow> = {}): UserRow {
  const id = over.id ?? freshId('usr');
  return {
    id,
    email: `${freshId('mail')}@example.test`,
    password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    name: null,
    is_admin: 0,
    created_at: T0,
    updated_at: T0,
    totp_secret_enc: null,
    totp_pending_secret_enc: null,
    totp_enabled_at: null,
    totp_last_step: null,
    sign_in_count: 0,
    email_verified_at: null,
    is_auditor: 0,
    disabled_at: null,
    ...over,
  } as UserRow;
}

export async function insertUser(db: DB, over: Partial<NewUserRow> = {}): Promise<UserRow> {
  const row = userRow(over);
  await createAccountsRepo(db).insert(row);
  return row;
}

export function applicationRow(ownerId: string, over: Partial<ApplicationRow> = {}): ApplicationRow {
  return {
    client_id: freshId('app'),
    owner_id: ownerId,
    name: 'An application',
    type: 'web',
    redirect_uris: JSON.stringify(['https://app.example/cb']),
    scopes: JSON.stringify(['read:users']),
    secret_hash: 'a'.repeat(64),
    previous_secret_hash: null,
    previous_secret_expires_at: null,
    created_at: T0,
    updated_at: T0,
    logo_uri: null,
    client_uri: null,
    policy_uri: null,
    tos_uri: null,
    post_logout_redirect_uris: '[]',
    backchannel_logout_uri: null,
    backchannel_logout_session_required: 0,
    require_pkce: 1,
    subject_type: 'public',
    device_flow: 0,
    registration: 'manual',
    review_state: null,
    registration_token_hash: null,
    registered_with: null,
    require_pushed_authorization_requests: 0,
    require_dpop: 0,
    allowed_origins: '[]',
    token_exchange: '[]',
    api: null,
    suspended_at: null,
    ...over,
  };
}

export async function insertApplication(
  db: DB,
  ownerId: string,
  over: Partial<ApplicationRow> = {},
): Promise<ApplicationRow> {
  const row = applicationRow(ownerId, over);
  await createApplicationsRepo(db).insert(row, []);
  return row;
}

export function apiKeyRow(userId: string, over: Partial<ApiKeyRow> = {}): ApiKeyRow {
  return {
    id: freshId('key'),
    user_id: userId,
    name: 'A key',
    secret_hash: 'b'.repeat(64),
    scopes: JSON.stringify(['read:users']),
    allowed_ips: null,
    expires_at: null,
    created_at: T0,
    revoked_at: null,
    last_used_at: null,
    last_used_ip: null,
    replaced_by: null,
    grace_until: null,
    rate_limit_hourly: null,
    rate_limit_burst: null,
    ...over,
  };
}

/** One request's activity entry for a key, as the usage batch writes it. */
export function activityRow(keyId: string, at: number, over: Partial<ApiKeyActivityRow> = {}): ApiKeyActivityRow {
  return {
    id: freshId('act'),
    key_id: keyId,
    at,
    ip: '203.0.113.7',
    method: 'GET',
    path: '/v2/auth/test',
    status: 200,
    request_id: freshId('req'),
    client_version: null,
    ...over,
  };
}

export function projectRow(ownerId: string, over: Partial<ProjectRow> = {}): ProjectRow {
  return {
    id: freshId('prj'),
    owner_id: ownerId,
    name: 'A project',
    description: null,
    created_at: T0,
    updated_at: T0,
    ...over,
  };
}

export function endpointRow(userId: string, over: Partial<WebhookEndpointRow> = {}): WebhookEndpointRow {
  return {
    id: freshId('whe'),
    user_id: userId,
    url: 'https://hooks.example/in',
    events: JSON.stringify(['*']),
    description: null,
    secret_enc: 'v1.sealed.secret',
    previous_secret_enc: null,
    previous_secret_until: null,
    status: 'active',
    disabled_reason: null,
    failing_since: null,
    last_claimed_at: null,
    created_at: T0,
    updated_at: T0,
    ...over,
  };
}

export { T0 };
