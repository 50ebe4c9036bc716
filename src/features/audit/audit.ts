import type { AuditActor, AuditRecord, AuditType } from '../../domain/audit.ts';
import type { RequestScope } from '../../shared/request-scope.ts';
import { newId } from '../../shared/secrets.ts';

/** What a service says about an event; the request it happens in supplies the rest. */
export interface AuditInput {
  /** Whose trail it is: the account the event concerns (null: the server itself). */
  account: string | null;
  target?: { type: string; id: string } | null;
  data?: Record<string, unknown>;
  /**
   * Who acts, when it is not the request's credential: the account signing in, or (outside a
   * request) the operator or the server.
   */
  actor?: AuditActor;
}

/** The longest User-Agent kept: enough to tell browsers apart, not a place to store a payload. */
const MAX_USER_AGENT = 256;

export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: null, accountId: null, label: null };
export const CLI_ACTOR: AuditActor = { type: 'cli', id: null, accountId: null, label: null };
const ANONYMOUS_ACTOR: AuditActor = { type: 'anonymous', id: null, accountId: null, label: null };

/**
 * Builds audit records. A service adds them to the events it writes with its change (see
 * webhooks/outbox.repo.ts), so the record exists exactly when the change does. Outside a request the
 * actor is `outside` (the CLI says `cli`, the server `system`) unless the caller names one.
 */
export function createAudit(deps: { scope: RequestScope; now: () => number; outside: AuditActor }) {
  return {
    event(type: AuditType, input: AuditInput): AuditRecord {
      const facts = deps.scope.current();
      const actor = input.actor ?? (facts ? (facts.actor() ?? ANONYMOUS_ACTOR) : deps.outside);
      return {
        kind: 'audit',
        id: newId('aud', 24),
        type,
        actor,
        origin: {
          ip: facts?.ip ?? null,
          userAgent: facts?.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
          requestId: facts?.requestId ?? null,
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
