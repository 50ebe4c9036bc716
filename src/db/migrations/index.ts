import type { Migration } from 'kysely';
import * as m0001 from './0001_initial.ts';
import * as m0002 from './0002_api_keys_projects.ts';
import * as m0003 from './0003_api_key_rate_limits.ts';
import * as m0004 from './0004_webhooks.ts';
import * as m0005 from './0005_two_factor.ts';
import * as m0006 from './0006_webhook_attempts.ts';
import * as m0008 from './0008_browser_sessions_fresh_auth.ts';
import * as m0010 from './0010_webhook_fair_claims.ts';
import * as m0011 from './0011_credential_events.ts';
import * as m0012 from './0012_rate_limits_table.ts';
import * as m0013 from './0013_browser_sessions_devices.ts';
import * as m0014 from './0014_email_outbox.ts';
import * as m0015 from './0015_email_links.ts';
import * as m0016 from './0016_passkeys.ts';
import * as m0017 from './0017_secret_overlap_and_shown_once.ts';
import * as m0018 from './0018_application_links.ts';
import * as m0019 from './0019_application_logout.ts';
import * as m0020 from './0020_application_pkce_subject.ts';
import * as m0021 from './0021_apis.ts';
import * as m0022 from './0022_registered_clients.ts';
import * as m0023 from './0023_application_device_flow.ts';
import * as m0024 from './0024_application_par_dpop.ts';
import * as m0025 from './0025_application_origins_exchange.ts';
import * as m0030 from './0030_setup_tokens.ts';
import * as m0031 from './0031_audit_events.ts';
import * as m0032 from './0032_account_roles.ts';
import * as m0033 from './0033_admin_resources.ts';
import * as m0034 from './0034_webhook_attempt_details.ts';
import * as m0035 from './0035_oidc_payloads_partial_indexes.ts';
import * as m0036 from './0036_api_key_activity_drop_key_at.ts';
import * as m0039 from './0039_rate_limits_unlogged.ts';
import * as m0040 from './0040_oidc_payloads_without_model.ts';
import * as m0041 from './0041_api_key_activity_keyed_by_key.ts';
import * as m0042 from './0042_api_key_activity_without_foreign_key.ts';

/** Every migration, in order. Names are permanent: they are recorded in the database. */
export const migrations: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_api_keys_projects': m0002,
  '0003_api_key_rate_limits': m0003,
  '0004_webhooks': m0004,
  '0005_two_factor': m0005,
  '0006_webhook_attempts': m0006,
  '0008_browser_sessions_fresh_auth': m0008,
  '0010_webhook_fair_claims': m0010,
  '0011_credential_events': m0011,
  '0012_rate_limits_table': m0012,
  '0013_browser_sessions_devices': m0013,
  '0014_email_outbox': m0014,
  '0015_email_links': m0015,
  '0016_passkeys': m0016,
  '0017_secret_overlap_and_shown_once': m0017,
  '0018_application_links': m0018,
  '0019_application_logout': m0019,
  '0020_application_pkce_subject': m0020,
  '0021_apis': m0021,
  '0022_registered_clients': m0022,
  '0023_application_device_flow': m0023,
  '0024_application_par_dpop': m0024,
  '0025_application_origins_exchange': m0025,
  '0030_setup_tokens': m0030,
  '0031_audit_events': m0031,
  '0032_account_roles': m0032,
  '0033_admin_resources': m0033,
  '0034_webhook_attempt_details': m0034,
  '0035_oidc_payloads_partial_indexes': m0035,
  '0036_api_key_activity_drop_key_at': m0036,
  '0039_rate_limits_unlogged': m0039,
  '0040_oidc_payloads_without_model': m0040,
  '0041_api_key_activity_keyed_by_key': m0041,
  '0042_api_key_activity_without_foreign_key': m0042,
};
