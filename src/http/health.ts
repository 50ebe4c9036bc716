import type { Middleware } from 'koa';
import { sql } from 'kysely';
import type { DB } from '../db/client.ts';
import type { AppState } from './context.ts';

/** How long /readyz waits for the database before calling it unavailable. */
const READY_TIMEOUT_MS = 2_000;

/** A trivial query, bounded in time (a PostgreSQL pool waiting for a connection could hang). */
async function databaseAnswers(db: DB): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      sql`select 1`.execute(db).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** With LATCHKEY_DEBUG_PID=1: every answer carries `X-Latchkey-Pid` (which process answered). */
export function exposePid(): Middleware<AppState> {
  const pid = String(process.pid);
  return async (ctx, next) => {
    ctx.set('X-Latchkey-Pid', pid);
    await next();
  };
}

/** Probes answer GET (and HEAD) only. */
function probe(answer: Middleware<AppState>): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { error: { code: 'METHOD_NOT_ALLOWED', message: 'Use GET' } };
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    await answer(ctx, next);
  };
}

/**
 * `GET /healthz`, for orchestrators and load balancers: the process is up and serving (never
 * touches the database) -> 200 {"status":"ok"}. Mounted apart from sessions, CSRF and the routers
 * (so no cookie, no authentication, no rate limit).
 */
export function liveness(): Middleware<AppState> {
  return probe(async (ctx) => {
    ctx.body = { status: 'ok' };
  });
}

/** `GET /readyz`: the database answers -> 200 {"status":"ready"}, else 503 {"status":"unavailable"}. */
export function readiness(deps: { db: DB }): Middleware<AppState> {
  return probe(async (ctx) => {
    if (await databaseAnswers(deps.db)) {
      ctx.body = { status: 'ready' };
    } else {
      ctx.status = 503;
      ctx.body = { status: 'unavailable' };
      ctx.state.log.warn('readiness check failed: the database did not answer');
    }
  });
}
