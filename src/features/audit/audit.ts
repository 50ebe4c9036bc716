import type { AuditActor, AuditOrigin, AuditRecord, AuditType, Provenance } from '../../domain/audit.ts';
import { newId } from '../../shared/secrets.ts';

/** What a service says about an event; `Provenance` says who acts and from where. */
export interface AuditInput {
  /** Whose trail it is: the account the event concerns (null: the server itself). */
  account: string | null;
  target?: { type: string; id: string } | null;
  data?: Record<string, unknown>;
  /**
   * Who acts, when it is not the provenance's actor: the account signing in, or the client whose
   * token was replayed.
   */
  actor?: AuditActor;
}

/** The longest User-Agent kept: enough to tell browsers apart, not a place to store a payload. */
const MAX_USER_AGENT = 256;

export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: null, accountId: null, label: null };
export const CLI_ACTOR: AuditActor = { type: 'cli', id: null, accountId: null, label: null };
export const ANONYMOUS_ACTOR: AuditActor = { type: 'anonymous', id: null, accountId: null, label: null };

const NO_ORIGIN: AuditOrigin = Object.freeze({ ip: null, userAgent: null, requestId: null });

/** Changes made outside any request: `actor` acts (the CLI's operator, the server), from nowhere. */
export function outsideRequests(actor: AuditActor): Provenance {
  return { actor: () => actor, origin: NO_ORIGIN };
}

/** The server's own work: housekeeping, a failing webhook endpoint disabled, a key rotated on schedule. */
export const BY_SYSTEM: Provenance = outsideRequests(SYSTEM_ACTOR);
/** An operator at the command line. */
export const BY_CLI: Provenance = outsideRequests(CLI_ACTOR);

/**
 * Builds audit records. A service adds them to the events it writes with its change (see
 * webhooks/outbox.repo.ts), so the record exists exactly when the change does.
 */
export function createAudit(deps: { now: () => number }) {
  return {
    event(type: AuditType, input: AuditInput, by: Provenance): AuditRecord {
      const origin = by.origin;
      return {
        kind: 'audit',
        id: newId('aud', 24),
        type,
        actor: input.actor ?? by.actor(),
        origin: {
          ip: origin.ip,
          userAgent: origin.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
          requestId: origin.requestId,
        },
        accountId: input.account,
        target: input.target ?? null,
        data: input.data ?? {},
        createdAt: deps.now(),
      };
    },
  };
}
export type Audit = ReturnType<typeof createAudit>;
