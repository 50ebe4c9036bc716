/**
 * The audit trail's vocabulary. Each type names what happened; who did it is the actor, so an admin
 * revoking someone's key is `api_key.revoked` with the admin as actor and the key's owner as account.
 * Every type is also a webhook event type, `audit.<type>` (subscribe to `audit.*` for all of them).
 */
export const AUDIT_TYPES = [
  // Signing in and the account's own credentials.
  'sign_in.succeeded',
  'sign_in.failed',
  'second_factor.succeeded',
  'second_factor.failed',
  'password.changed',
  'password.reset',
  'email.changed',
  'passkey.added',
  'passkey.removed',
  'two_factor.enabled',
  'two_factor.disabled',
  'account.created',
  'account.deleted',
  // What an account makes and grants.
  'api_key.created',
  'api_key.rotated',
  'api_key.revoked',
  'application.created',
  'application.changed',
  'application.secret_rotated',
  'application.deleted',
  'consent.granted',
  'consent.revoked',
  'token.reuse_detected',
  'webhook_endpoint.created',
  'webhook_endpoint.changed',
  'webhook_endpoint.deleted',
  // What only operators do.
  'account.disabled',
  'account.enabled',
  'account.role_changed',
  'two_factor.reset',
  'password_reset.sent',
  'application.suspended',
  'application.unsuspended',
  'signing_keys.rotated',
  'audit.exported',
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

/** The webhook event type that carries an audit event of `type`. */
export const auditWebhookType = (type: AuditType) => `audit.${type}` as const;

/**
 * Who acted. `user`: a person in a browser session (actorId is the account); `api_key`, `oauth`,
 * `jwt`, `client`: a bearer credential (actorId is the key id, client id or JWT subject, and
 * actorAccountId the account it acts for); `cli`: an operator at the command line; `system`: the
 * server itself (housekeeping, a failing webhook endpoint); `anonymous`: nobody signed in (a failed
 * sign-in).
 */
export type AuditActorType = 'user' | 'api_key' | 'oauth' | 'jwt' | 'client' | 'cli' | 'system' | 'anonymous';
/** Every actor type, for the filters that name one. */
export const AUDIT_ACTOR_TYPES = [
  'user',
  'api_key',
  'oauth',
  'jwt',
  'client',
  'cli',
  'system',
  'anonymous',
] as const satisfies readonly AuditActorType[];

export interface AuditActor {
  type: AuditActorType;
  id: string | null;
  accountId: string | null;
  /** Readable after the account is gone: its email at the time, a key's name… */
  label: string | null;
}

/** Where the request that caused an event came from (null outside a request: the CLI, the server). */
export interface AuditOrigin {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/**
 * Who makes a change and from where, as the audit trail records it beside the change: built once
 * per request by the HTTP layer (http/request-facts.ts), or by the CLI and background work for
 * themselves. Every service method that records an event takes one, so no change goes unattributed.
 */
export interface Provenance {
  /**
   * Who acts, asked when an event is recorded rather than when the request began: an authentication
   * that completes later in the request (a sign-in, a bearer credential) still counts.
   */
  actor(): AuditActor;
  readonly origin: AuditOrigin;
}

/** One event of the trail, ready to be written in the transaction of the change it records. */
export interface AuditRecord {
  readonly kind: 'audit';
  id: string;
  type: AuditType;
  actor: AuditActor;
  origin: AuditOrigin;
  /** Whose trail it is: the account the event concerns (null: the server itself). */
  accountId: string | null;
  target: { type: string; id: string } | null;
  data: Record<string, unknown>;
  createdAt: number;
}

/** An audit event as the pages, the API and the export show it. */
export interface AuditEntry {
  id: string;
  /** The keyset cursor: entries are listed by it, newest first. */
  seq: number;
  type: AuditType;
  actor: AuditActor;
  accountId: string | null;
  target: { type: string; id: string } | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  data: Record<string, unknown>;
  createdAt: number;
}
