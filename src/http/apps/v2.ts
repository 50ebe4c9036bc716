import type Router from '@koa/router';
import type { Middleware, Next } from 'koa';
import type { AccountsService } from '../../features/accounts/accounts.service.ts';
import type { AppContext, AppState } from '../context.ts';
import { afterStep, type Step } from '../step.ts';
import { answerFailure, apiErrors, refuseUnanswered } from '../error-handler.ts';
import { byPath } from '../mount.ts';
import { routesOf } from '../route-table.ts';
import { apiSecurityHeaders, setHeaders } from '../security-headers.ts';
import { readBrowserSession } from '../session.ts';
import { AnswerHead, releaseAnswerHead, writeAnswer } from '../answer-head.ts';
import { corsStep, foreignOrCookieless, VARY_ORIGIN } from '../api-cors.ts';
import { answerApiVersion } from '../../api/v2/router.ts';
import { serveOpenApi } from '../../api/openapi.ts';
import { nameMetadataInChallenge } from '../protected-resource.ts';

/**
 * `/v2`: the JSON API. Every answer carries `X-API-Version` and errors in the JSON error model;
 * the router parses JSON bodies, authenticates (a bearer credential or the dashboard session) and
 * rate limits. `/v2/openapi.json` describes it, to anyone. Pages of the applications' origins may
 * call it with their bearer tokens (CORS); the dashboard session serves our own origin alone.
 *
 * One middleware whose steps read in order: the request id and the constant headers (made once),
 * then, inside the error handling, CORS, the version, the session, the routes, the answer; last, a
 * 401's challenge names the API's metadata. A bearer request without Origin or Cookie waits for no
 * promise before its route, and its head is gathered and written with its body in one step
 * (answer-head.ts): CORS and the session set no field on it. When its route answers at once too,
 * no step of this app makes a promise (step.ts).
 */
export function v2App(deps: {
  router: Router<AppState>;
  openApi: Record<string, unknown>;
  accounts: AccountsService;
  hsts: boolean;
  /** The API's protected resource metadata (RFC 9728), named in every 401's challenge. */
  resourceMetadataUrl: string;
  /** The server's own origin: the only one whose requests the dashboard session authenticates. */
  origin: string;
  /** Whether a page of this origin may call the API (an application's; see ApplicationsService). */
  corsOriginAllowed(origin: string): Promise<boolean>;
}): Middleware<AppState> {
  const headers = [...apiSecurityHeaders(deps.hsts), VARY_ORIGIN];
  const cors = corsStep({ allowed: deps.corsOriginAllowed, methods: ['GET', 'POST', 'PATCH', 'DELETE'] });
  const routes = routesOf(deps.router);
  const dispatch = byPath([{ path: '/v2/openapi.json', exact: true, app: serveOpenApi(deps.openApi) }], routes);
  const flatHeaders = headers.flat();

  /** The route's answer, written with its gathered head when it has one (a 404 when none answered). */
  const answerRouted = (ctx: AppContext): void => {
    refuseUnanswered(ctx);
    writeAnswer(ctx);
  };
  const routed = (ctx: AppContext, next: Next): Step => {
    const routing = dispatch(ctx, next);
    return afterStep(routing, () => answerRouted(ctx));
  };

  /** A request with an Origin or a Cookie: CORS (a preflight answered here) and the session first. */
  const fromBrowser = async (ctx: AppContext, next: Next): Promise<void> => {
    ctx.res.setHeader('X-Request-ID', ctx.state.requestId);
    setHeaders(ctx.res, headers);
    const preflight = cors(ctx);
    if (preflight !== false && (await preflight)) return;
    answerApiVersion(ctx);
    if (foreignOrCookieless(ctx, deps.origin)) ctx.state.account = null;
    else await readBrowserSession(ctx, deps.accounts);
    await routed(ctx, next);
  };

  /** A bearer request (no Origin, no Cookie): no CORS, no session, its head gathered (answer-head.ts). */
  const bearer = (ctx: AppContext, next: Next): Step => {
    ctx.state.answerHead = new AnswerHead(['X-Request-ID', ctx.state.requestId, ...flatHeaders]);
    answerApiVersion(ctx);
    ctx.state.account = null;
    return routed(ctx, next);
  };

  /** A failure in the JSON error model; then, as for every answer, a 401 names the metadata. */
  const refused = (ctx: AppContext, raw: unknown): void => {
    releaseAnswerHead(ctx);
    answerFailure(ctx, raw, apiErrors);
    nameMetadataInChallenge(ctx, deps.resourceMetadataUrl);
  };

  return (ctx, next) => {
    const req = ctx.req.headers;
    let answering: Step;
    try {
      answering = req.origin === undefined && req.cookie === undefined ? bearer(ctx, next) : fromBrowser(ctx, next);
    } catch (raw) {
      return refused(ctx, raw);
    }
    return afterStep(
      answering,
      () => nameMetadataInChallenge(ctx, deps.resourceMetadataUrl),
      (raw) => refused(ctx, raw),
    );
  };
}
