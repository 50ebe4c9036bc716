import type { Account } from '../../domain/account.ts';
import { sessionPrincipal } from '../../domain/principal.ts';
import type { ApiKeyView } from '../../wire/api-keys.ts';
import type { ApplicationView } from '../../wire/applications.ts';
import type { ConsentView } from '../../wire/consents.ts';
import type { ProjectView } from '../../wire/projects.ts';
import type { EndpointView } from '../../wire/webhooks.ts';
import type { AccountsService } from '../accounts/accounts.service.ts';
import type { TwoFactorService } from '../accounts/two-factor.service.ts';
import type { ApiKeysService } from '../api-keys/api-keys.service.ts';
import type { ApplicationsService } from '../applications/applications.service.ts';
import type { ConsentsService } from '../consents/consents.service.ts';
import type { ProjectsService } from '../projects/projects.service.ts';
import type { WebhooksService } from '../webhooks/webhooks.service.ts';
import type { PasskeysService } from '../passkeys/passkeys.service.ts';

/** The file Settings → Account → Export downloads: the account's data, never a secret or a hash. */
export interface AccountExport {
  format: 'latchkey-account-export';
  version: 1;
  exported_at: string;
  profile: {
    id: string;
    email: string;
    email_verified: boolean;
    name: string | null;
    is_admin: boolean;
    created_at: string;
    sign_ins: number;
  };
  /** On or off, and how many recovery codes are left: never the secret nor a code. */
  two_factor: { enabled: boolean; recovery_codes_left: number };
  /** Passkeys by name and dates (the credential and its public key stay on the server). */
  passkeys: { name: string; created_at: string; last_used_at: string | null; synced: boolean }[];
  sessions: {
    device: string;
    user_agent: string | null;
    ip: string | null;
    signed_in_at: string;
    last_seen_at: string;
    this_device: boolean;
  }[];
  /** Applications the account registered (metadata; a client secret is never kept readable). */
  applications: ApplicationView[];
  /** Applications the account authorized, with the scopes it granted them. */
  authorized_applications: ConsentView[];
  /** API keys by name and prefix (the key itself is never kept). */
  api_keys: ApiKeyView[];
  /** Webhook endpoints (URL and events; the signing secret is not part of an endpoint's view). */
  webhooks: EndpointView[];
  projects: ProjectView[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Gathers an account's data for its owner, from the same views the API answers with (which carry
 * no secret): the profile, sessions, applications, authorizations, keys, webhooks and projects.
 */
export function createAccountExport(deps: {
  accounts: Pick<AccountsService, 'listSessions'>;
  twoFactor: Pick<TwoFactorService, 'status'>;
  apiKeys: Pick<ApiKeysService, 'list'>;
  applications: Pick<ApplicationsService, 'list'>;
  consents: Pick<ConsentsService, 'list'>;
  webhooks: Pick<WebhooksService, 'list'>;
  projects: Pick<ProjectsService, 'listOwnedBy'>;
  passkeys: Pick<PasskeysService, 'list'>;
  now(): number;
}) {
  return {
    async of(account: Account, currentSessionId: string): Promise<AccountExport> {
      const principal = sessionPrincipal(account);
      const [twoFactor, sessions, applications, consents, apiKeys, webhooks, projects, passkeys] = await Promise.all([
        deps.twoFactor.status(account.id),
        deps.accounts.listSessions(account.id, currentSessionId),
        deps.applications.list(principal),
        deps.consents.list(principal),
        deps.apiKeys.list(principal),
        deps.webhooks.list(account.id),
        deps.projects.listOwnedBy(account.id),
        deps.passkeys.list(account.id),
      ]);
      return {
        format: 'latchkey-account-export',
        version: 1,
        exported_at: iso(deps.now()),
        profile: {
          id: account.id,
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
          is_admin: account.isAdmin,
          created_at: iso(account.createdAt),
          sign_ins: account.signInCount,
        },
        two_factor: { enabled: twoFactor.enabled, recovery_codes_left: twoFactor.recoveryCodesLeft },
        passkeys: passkeys.map((p) => ({
          name: p.name,
          created_at: iso(p.createdAt),
          last_used_at: p.lastUsedAt === null ? null : iso(p.lastUsedAt),
          synced: p.backedUp,
        })),
        sessions: sessions.map((s) => ({
          device: s.device,
          user_agent: s.userAgent,
          ip: s.ip,
          signed_in_at: iso(s.createdAt),
          last_seen_at: iso(s.lastSeenAt),
          this_device: s.current,
        })),
        applications,
        authorized_applications: consents,
        api_keys: apiKeys,
        webhooks,
        projects,
      };
    },
  };
}
export type AccountExporter = ReturnType<typeof createAccountExport>;
