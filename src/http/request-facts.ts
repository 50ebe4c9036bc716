import type { AuditActor } from '../domain/audit.ts';
import type { RequestFacts } from '../shared/request-scope.ts';
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
 * The facts of the request scope the audit trail reads (address, User-Agent, request id, actor),
 * once the request id is set. The actor is read from `ctx.state` when an event is recorded, so
 * whatever the audience's authentication found by then is who acted.
 */
export function requestFactsOf(ctx: AppContext): RequestFacts {
  const state = ctx.state;
  return {
    requestId: state.requestId,
    ip: ctx.ip,
    userAgent: ctx.req.headers['user-agent'] || null,
    actor: () => actorOf(state),
  };
}
