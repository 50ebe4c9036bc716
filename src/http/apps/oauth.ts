import compose from 'koa-compose';
import type Router from '@koa/router';
import mount from 'koa-mount';
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { AppState } from '../context.ts';
import { authorizeErrors, errorHandler, oauthErrors, type ErrorFormat } from '../error-handler.ts';
import { byPath } from '../mount.ts';
import type { Renderer } from '../render.ts';
import { apiSecurityHeaders, securityHeaders, type HeaderList } from '../security-headers.ts';
import { gatherAnswerHead, releaseAnswerHead, writeAnswer } from '../answer-head.ts';
import { answerRequestId } from '../request-id.ts';
import { browserSession, clearSessionCookie, linkProviderSession } from '../session.ts';
import { issuerOrigin } from '../../oidc/issuer-origin.ts';
import type { ProtocolPipelines } from '../../oidc/token-pipeline.ts';

export interface OAuthAppDeps {
  provider: Provider;
  /** Our steps in front of the provider's endpoints (see oidc/token-pipeline.ts). */
  pipelines: ProtocolPipelines;
  /** OpenID Connect UserInfo (oidc/userinfo.ts): ours, not the provider's. */
  userinfo: Middleware<AppState>;
  /** Dynamic client registration (features/registration), when DYNAMIC_REGISTRATION is not off. */
  registration?: Router<AppState>;
  render: Renderer;
  accounts: AccountsService;
  issuer: string;
  hsts: boolean;
}

/**
 * Signing out at /oauth/logout ("Sign out", `logout=yes`) ends the dashboard session too: one
 * sign-in serves both, so one sign-out ends both. "Stay signed in" ends only the application's part.
 */
function endDashboardSession(deps: OAuthAppDeps): Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    const signedOut = (ctx as { oidc?: { params?: { logout?: unknown } } }).oidc?.params?.logout;
    if (ctx.status !== 303 || !signedOut || !ctx.state.sessionId) return;
    await deps.accounts.endSession(ctx.state.sessionId);
    clearSessionCookie(ctx as never, deps.hsts);
    ctx.state.account = null; // nothing left to link the provider session to
  };
}

/**
 * A protocol endpoint's answer (JSON, or the empty text of a revocation) written in one step
 * (answer-head.ts): the request id and the security fields start the gathered head, everything
 * the endpoint's steps and oidc-provider set through Koa joins it, and the head goes out with the
 * body. When a field is already on the response, they are set on it as before and Koa answers.
 */
function answeredInOneStep(headers: HeaderList, app: Middleware<AppState>): Middleware<AppState> {
  const flat = headers.flat();
  return async (ctx, next) => {
    if (!gatherAnswerHead(ctx, ['X-Request-ID', ctx.state.requestId, ...flat])) return app(ctx, next);
    try {
      await app(ctx, next);
    } catch (err) {
      releaseAnswerHead(ctx); // Koa answers what escapes, with the fields it keeps
      throw err;
    }
    writeAnswer(ctx);
  };
}

/**
 * `/oauth`: oidc-provider's endpoints, each behind its own steps. The token, introspection,
 * revocation and key endpoints answer JSON only (RFC 6749 errors, the no-HTML headers); the
 * authorization endpoint and the rest are where a browser goes (page headers, the signed-in
 * session for error pages). oidc-provider builds its URLs from ISSUER, never from the request.
 * Every answer carries the request id first; the JSON endpoints' answers are written in one step.
 */
export function oauthApp(deps: OAuthAppDeps): Middleware<AppState> {
  const provider = [issuerOrigin(deps.issuer) as Middleware<AppState>, mount(deps.provider as never)];
  const apiHeaders = apiSecurityHeaders(deps.hsts);
  const jsonEndpoint = (...steps: Middleware<AppState>[]) =>
    answeredInOneStep(apiHeaders, compose([errorHandler(oauthErrors), ...steps, ...provider]));
  const browserEndpoint = (errors: ErrorFormat, ...steps: Middleware<AppState>[]) =>
    answerRequestId(
      compose([
        errorHandler(errors),
        securityHeaders({ hsts: deps.hsts, pages: true }),
        browserSession(deps.accounts),
        linkProviderSession(deps.accounts),
        ...steps,
        ...provider,
      ]),
    );
  const { token, par, introspection, revocation, authorization, deviceAuthorization } = deps.pipelines;
  return byPath(
    [
      { path: '/oauth/token', exact: true, app: jsonEndpoint(token) },
      { path: '/oauth/par', exact: true, app: jsonEndpoint(par) },
      { path: '/oauth/introspect', exact: true, app: jsonEndpoint(introspection) },
      { path: '/oauth/revoke', exact: true, app: jsonEndpoint(revocation) },
      { path: '/oauth/device/auth', exact: true, app: jsonEndpoint(deviceAuthorization) },
      { path: '/oauth/jwks', exact: true, app: jsonEndpoint() },
      {
        path: '/oauth/userinfo',
        exact: true,
        app: answerRequestId(
          compose([errorHandler(oauthErrors), securityHeaders({ hsts: deps.hsts, pages: false }), deps.userinfo]),
        ),
      },
      ...(deps.registration
        ? [
            {
              path: '/oauth/register',
              app: answerRequestId(
                compose([
                  errorHandler(oauthErrors),
                  securityHeaders({ hsts: deps.hsts, pages: false }),
                  deps.registration.routes() as Middleware<AppState>,
                  deps.registration.allowedMethods() as Middleware<AppState>,
                ]),
              ),
            },
          ]
        : []),
      { path: '/oauth/authorize', exact: true, app: browserEndpoint(authorizeErrors(deps.render), authorization) },
      { path: '/oauth/logout/confirm', exact: true, app: browserEndpoint(oauthErrors, endDashboardSession(deps)) },
    ],
    browserEndpoint(oauthErrors),
  );
}
