import compose from 'koa-compose';
import mount from 'koa-mount';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AppState } from '../context.ts';
import { apiErrors, errorHandler } from '../error-handler.ts';
import { securityHeaders } from '../security-headers.ts';
import { issuerOrigin } from '../../oidc/issuer-origin.ts';
import { byPath } from '../mount.ts';

/**
 * `/.well-known`: oidc-provider's discovery documents (JSON), with URLs built from ISSUER only, and
 * the built-in API's protected resource metadata (RFC 9728) at its path.
 */
export function wellKnownApp(deps: {
  provider: Provider;
  issuer: string;
  hsts: boolean;
  /** Where the built-in API's metadata is served (`/.well-known/oauth-protected-resource/v2`), and what. */
  protectedResource: { path: string; app: Middleware<AppState> };
}): Middleware<AppState> {
  return compose([
    errorHandler(apiErrors),
    securityHeaders({ hsts: deps.hsts, pages: false }),
    byPath(
      [{ path: deps.protectedResource.path, exact: true, app: deps.protectedResource.app }],
      compose([
        issuerOrigin(deps.issuer) as Middleware<AppState>,
        mount(deps.provider as never) as Middleware<AppState>,
      ]),
    ),
  ]);
}
