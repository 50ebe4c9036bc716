import type { AuditActor, AuditEntry, AuditType } from '../../domain/audit.ts';
import { displayPrefix } from '../api-keys/key-format.ts';

/** A name the event carries (a key's, an application's), quoted; empty when it has none. */
const named = (e: AuditEntry, field = 'name') => {
  const value = e.data[field];
  return typeof value === 'string' && value ? ` "${value}"` : '';
};
const reason = (e: AuditEntry) => (typeof e.data['reason'] === 'string' ? ` (${e.data['reason']})` : '');
const method = (e: AuditEntry) => {
  const m = e.data['method'];
  return m === 'passkey' ? ' with a passkey' : m === 'password' ? ' with a password' : '';
};

/** What happened, in a sentence a person reads (the type's name is beside it for the precise reader). */
const SENTENCES: Record<AuditType, (e: AuditEntry) => string> = {
  'sign_in.succeeded': (e) => `Signed in${method(e)}`,
  'sign_in.failed': (e) => `Sign-in refused${reason(e)}`,
  'second_factor.succeeded': () => 'Second factor accepted',
  'second_factor.failed': () => 'Second factor refused',
  'password.changed': () => 'Password changed',
  'password.reset': () => 'Password reset with an emailed link',
  'email.changed': () => 'Email address changed',
  'passkey.added': (e) => `Passkey${named(e)} added`,
  'passkey.removed': (e) => `Passkey${named(e)} removed`,
  'two_factor.enabled': () => 'Two-factor authentication turned on',
  'two_factor.disabled': () => 'Two-factor authentication turned off',
  'account.created': () => 'Account created',
  'account.deleted': () => 'Account deleted',
  'api_key.created': (e) => `API key${named(e)} created`,
  'api_key.rotated': (e) => `API key${named(e)} rotated`,
  'api_key.revoked': (e) => `API key${named(e)} revoked`,
  'application.created': (e) => `Application${named(e)} registered`,
  'application.changed': (e) => `Application${named(e)} changed`,
  'application.secret_rotated': (e) => `Client secret of application${named(e)} rotated`,
  'application.deleted': (e) => `Application${named(e)} deleted`,
  'consent.granted': (e) => `Access granted to application${named(e, 'client_name')}`,
  'consent.revoked': (e) => `Access of application${named(e, 'client_name')} revoked`,
  'token.reuse_detected': () => 'A used refresh token came back: the grant was revoked',
  'webhook_endpoint.created': (e) => `Webhook endpoint${named(e, 'url')} added`,
  'webhook_endpoint.changed': (e) => `Webhook endpoint${named(e, 'url')} changed`,
  'webhook_endpoint.deleted': (e) => `Webhook endpoint${named(e, 'url')} deleted`,
  'account.disabled': () => 'Account disabled',
  'account.enabled': () => 'Account enabled again',
  'account.role_changed': () => 'Account role changed',
  'two_factor.reset': () => 'Two-factor authentication reset by an administrator',
  'password_reset.sent': () => 'Password-reset email sent',
  'application.suspended': (e) => `Application${named(e)} suspended`,
  'application.unsuspended': (e) => `Application${named(e)} suspended no more`,
  'signing_keys.rotated': () => 'Signing keys rotated',
  'audit.exported': (e) => `Audit log exported${typeof e.data['format'] === 'string' ? ` (${e.data['format']})` : ''}`,
};

export function describeEvent(entry: AuditEntry): string {
  return SENTENCES[entry.type]?.(entry) ?? entry.type;
}

/** The credential an actor used, for a reader: "API key lk_…_…", "application app_…". */
function credentialOf(actor: AuditActor): string | null {
  switch (actor.type) {
    case 'api_key':
      return actor.id ? `API key ${displayPrefix(actor.id)}…` : 'an API key';
    case 'oauth':
      return `application ${actor.id ?? ''}`.trim();
    case 'client':
      return `application ${actor.id ?? ''} (its own credentials)`.trim();
    case 'jwt':
      return 'a signed token (JWT)';
    default:
      return null;
  }
}

/** Who acted, as an account holder reads it on their own trail (no other account's address is shown). */
export function describeActorFor(viewerId: string, actor: AuditActor): string {
  const credential = credentialOf(actor);
  if (actor.accountId === viewerId) return credential ? `You, with ${credential}` : 'You';
  switch (actor.type) {
    case 'cli':
      return 'An operator, at the command line';
    case 'system':
      return 'Latchkey itself';
    case 'anonymous':
      return 'Someone not signed in';
    default:
      // Another account acting on this one: only an administrator can (the console, admin:all).
      return credential ? `An administrator, with ${credential}` : 'An administrator';
  }
}

/** Who acted, as the console shows it: the account's email when known, and the credential. */
export function describeActor(actor: AuditActor): string {
  const credential = credentialOf(actor);
  const who = actor.label ?? actor.accountId ?? null;
  if (actor.type === 'user') return who ?? 'A signed-in person';
  if (credential) return who ? `${who}, with ${credential}` : credential;
  return { cli: 'Command line', system: 'Latchkey', anonymous: 'Not signed in' }[actor.type as string] ?? actor.type;
}
