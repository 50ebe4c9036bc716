import type { AuditActor, AuditOrigin, Provenance } from '../domain/audit.ts';
import { ANONYMOUS_ACTOR } from '../features/audit/audit.ts';
import type { AppContext, AppState } from './context.ts';

/** Who acts in a request, as the audit trail names it: its bearer credential, else the signed-in browser. */
export function actorOf(state: AppState): AuditActor | null {
  const p = state.principal;
  const label = state.account?.email ?? null;
  if (p) {
    switch (p.kind) {
      case 'session':
        return { type: 'user', id: p.accountId, accountId: p.accountId, label };
      case 'api_key':
        return { type: 'api_key', id: p.credentialId, accountId: p.accountId, label: null };
      case 'oauth':
        return { type: 'oauth', id: p.clientId, accountId: p.accountId, label: null };
      case 'client':
        return { type: 'client', id: p.clientId, accountId: p.accountId, label: null };
      case 'jwt':
        return { type: 'jwt', id: p.subject, accountId: p.accountId, label: null };
    }
  }
  const account = state.account;
  return account ? { type: 'user', id: account.id, accountId: account.id, label: account.email } : null;
}

/**
 * The request as the audit trail records it: its address, User-Agent and request id, and who acts,
 * read from `ctx.state` when an event is recorded, so whatever the audience's authentication found
 * by then is who acted (nobody: anonymous). Controllers pass it to the services that record events.
 */
class RequestProvenance implements Provenance {
  readonly origin: AuditOrigin;
  readonly #state: AppState;

  constructor(ctx: AppContext) {
    this.#state = ctx.state;
    // The address now, while the connection is open (Koa reads it from the socket once).
    this.origin = { ip: ctx.ip, userAgent: ctx.req.headers['user-agent'] || null, requestId: ctx.state.requestId };
  }

  actor(): AuditActor {
    return actorOf(this.#state) ?? ANONYMOUS_ACTOR;
  }
}

/** Who acts in this request and from where, for the services that record audit events. */
export const provenanceOf = (ctx: AppContext): Provenance => new RequestProvenance(ctx);
