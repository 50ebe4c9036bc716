import compose from 'koa-compose';
import type { Middleware } from 'koa';
import type { AppState } from '../context.ts';
import { apiErrors, errorHandler } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';

/**
 * One endpoint for operators (`/healthz`, `/readyz`, `/metrics`): JSON errors, the headers of an
 * answer that is never HTML, then the endpoint. No session, no CSRF, no rate limit: probes and
 * scrapes stay cheap and answer whatever else is wrong.
 */
export function opsApp(endpoint: Middleware<AppState>, opts: { hsts: boolean }): Middleware<AppState> {
  return compose([errorHandler(apiErrors), securityHeaders({ hsts: opts.hsts, pages: false }), endpoint]);
}
