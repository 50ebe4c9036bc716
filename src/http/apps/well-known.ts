import compose from 'koa-compose';
import mount from 'koa-mount';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AppState } from '../context.ts';
import { apiErrors, errorHandler } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import { issuerOrigin } from '../../oidc/issuer-origin.ts';

/** `/.well-known`: oidc-provider's discovery documents (JSON), with URLs built from ISSUER only. */
export function wellKnownApp(deps: { provider: Provider; issuer: string; hsts: boolean }): Middleware<AppState> {
  return compose([
    errorHandler(apiErrors),
    securityHeaders({ hsts: deps.hsts, pages: false }),
    issuerOrigin(deps.issuer) as Middleware<AppState>,
    mount(deps.provider as never) as Middleware<AppState>,
  ]);
}
