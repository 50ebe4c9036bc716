import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActor } from '../domain/audit.ts';

/**
 * What the audit trail needs to know about the request a change happens in, without every service
 * method taking it as a parameter: where it came from, and who is acting. The HTTP app opens a
 * scope per request; `actor` reads what its authentication steps found. Outside a request
 * (the CLI, background work) there is no scope and the caller says who acts.
 */
export interface RequestFacts {
  requestId: string;
  ip: string;
  userAgent: string | null;
  /** Who is acting, read when an event is recorded: the request's credential or signed-in browser. */
  actor(): AuditActor | null;
}

export interface RequestScope {
  /** Runs `work` with `facts` as the current request's. */
  run<T>(facts: RequestFacts, work: () => T): T;
  /** The current request's facts, or undefined outside a request. */
  current(): RequestFacts | undefined;
}

/** One per server (never a module-level singleton: two servers in one process keep their own). */
export function createRequestScope(): RequestScope {
  const storage = new AsyncLocalStorage<RequestFacts>();
  return {
    run: (facts, work) => storage.run(facts, work),
    current: () => storage.getStore(),
  };
}
