import type { Middleware } from 'koa';
import { AppError } from './errors.ts';
import { toAppError } from './domain-errors.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { AppState } from './context.ts';
import type { Renderer } from './render.ts';

type Ctx = Parameters<Middleware<AppState>>[0];

/**
 * How one audience answers a failure: `error` for an AppError (after its headers are set),
 * `unavailable` for a database outage (503; Retry-After and no-store are already set).
 */
export interface ErrorFormat {
  error(ctx: Ctx, err: AppError): void;
  unavailable(ctx: Ctx): void;
}

const UNAVAILABLE = 'The service is temporarily unavailable; try again in a moment';

function answerJson(ctx: Ctx, err: AppError): void {
  ctx.status = err.status;
  ctx.body = err.toBody();
}

function answerPage(ctx: Ctx, render: Renderer, err: AppError): void {
  const title =
    err.status === 404 ? 'Page not found' : err.status >= 500 ? 'Something went wrong' : 'That did not work';
  render.error(ctx as never, err.status, title, err.status >= 500 ? 'Please try again in a moment.' : err.message);
}

const unavailablePage = (ctx: Ctx, render: Renderer) =>
  render.error(ctx as never, 503, 'Temporarily unavailable', 'Please try again in a moment.');

function unavailableRfc6749(ctx: Ctx): void {
  ctx.status = 503;
  ctx.body = { error: 'temporarily_unavailable', error_description: UNAVAILABLE };
}

/** The JSON APIs (/v2, /oauth/applications, discovery, probes): `{"error":{"code","message"}}`. */
export const apiErrors: ErrorFormat = {
  error: answerJson,
  unavailable: (ctx) => answerJson(ctx, new AppError('SERVICE_UNAVAILABLE', UNAVAILABLE)),
};

/** Pages for people: a friendly page, or the JSON error to a client that does not take HTML. */
export function pageErrors(render: Renderer): ErrorFormat {
  return {
    error: (ctx, err) => (ctx.accepts('html') ? answerPage(ctx, render, err) : answerJson(ctx, err)),
    unavailable: (ctx) => (ctx.accepts('html') ? unavailablePage(ctx, render) : apiErrors.unavailable(ctx)),
  };
}

/**
 * The protocol endpoints (oidc-provider's, and our steps in front of them). oidc-provider answers
 * its own errors in RFC 6749's shape; what reaches us is a missing endpoint (our JSON error) or an
 * outage: RFC 6749's `temporarily_unavailable` to a client that does not prefer HTML.
 */
export const oauthErrors: ErrorFormat = {
  error: answerJson,
  unavailable: (ctx) => (ctx.accepts('json', 'html') === 'html' ? apiErrors.unavailable(ctx) : unavailableRfc6749(ctx)),
};

/** The authorization endpoint, where a person's browser is sent: an outage is a page, unless JSON is asked for. */
export function authorizeErrors(render: Renderer): ErrorFormat {
  return {
    error: answerJson,
    unavailable: (ctx) =>
      ctx.accepts('json', 'html') === 'html' ? unavailablePage(ctx, render) : unavailableRfc6749(ctx),
  };
}

/** Maps errors from libraries (body parsers: 400/413/415) onto our codes. */
function fromHttpError(err: {
  status?: number;
  expose?: boolean;
  message?: string;
  code?: unknown;
}): AppError | undefined {
  // A body that does not inflate (Content-Encoding: gzip/deflate/br over bytes that are not): zlib's
  // error (Z_DATA_ERROR, Z_BUF_ERROR; brotli's ERR__ERROR_*) reaches us without a status.
  if (typeof err.code === 'string' && /^(Z_|ERR__ERROR_)/.test(err.code))
    return new AppError('VALIDATION_FAILED', 'Malformed request body (content encoding)');
  switch (err.status) {
    case 400:
      return new AppError('VALIDATION_FAILED', err.expose && err.message ? err.message : 'Malformed request body');
    case 413:
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 415:
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type');
    default:
      return undefined;
  }
}

/**
 * A router that matched nothing leaves a bare 404, and its allowedMethods() answers a known path
 * with another method by a bare status (405, or 501 for a method it does not know, e.g. PROPFIND):
 * both are refused in the audience's format, as 4xx.
 */
export function refuseUnanswered(ctx: Ctx): void {
  if (ctx.status === 404 && ctx.body === undefined && ctx.state.answerHead?.body === undefined) {
    throw new AppError('NOT_FOUND', 'No such endpoint');
  }
  if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
    throw new AppError('METHOD_NOT_ALLOWED', `Method ${ctx.method.slice(0, 20)} is not allowed here`);
  }
}

/**
 * Answers a failure in the audience's format (see ErrorFormat). Never a stack trace; unexpected
 * errors are logged with the request id. The database unreachable (PostgreSQL restarting, say) is
 * 503 with Retry-After, logged as a warning: nothing is wrong with the request or with us, and a
 * retry will do.
 */
export function answerFailure(ctx: Ctx, raw: unknown, format: ErrorFormat): void {
  if (isDatabaseUnavailable(raw)) {
    ctx.state.log?.warn('database unavailable: answered 503');
    ctx.set('Retry-After', '5');
    ctx.set('Cache-Control', 'no-store');
    format.unavailable(ctx);
    return;
  }
  const err = toAppError(raw) ?? fromHttpError(raw as never);
  const appError = err ?? new AppError('INTERNAL', 'Internal server error');
  if (!err) ctx.state.log?.error({ err: raw }, 'unhandled error');
  if (appError.headers) ctx.set(appError.headers);
  format.error(ctx, appError);
}

/** Turns every failure into a documented answer in the audience's format (the two steps above). */
export function errorHandler(format: ErrorFormat): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      refuseUnanswered(ctx);
    } catch (raw) {
      answerFailure(ctx, raw, format);
    }
  };
}
