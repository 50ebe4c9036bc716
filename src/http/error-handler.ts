import type { Middleware } from 'koa';
import { AppError } from './errors.ts';
import { toAppError } from './domain-errors.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import type { AppState } from './context.ts';
import type { Renderer } from './render.ts';

/** Paths that answer in the JSON error model; everything else is a page for people. */
const isApiPath = (p: string) => p.startsWith('/v2') || p.startsWith('/oauth/') || p.startsWith('/.well-known/');

/** The authorization endpoint is where a person's browser is sent: a page, unless JSON is asked for. */
const isBrowserProtocolPath = (p: string) => p === '/oauth/authorize';

/** The protocol endpoints (oidc-provider's, and our middleware in front of them): RFC 6749 errors. */
const isOAuthProtocolPath = (p: string) => p.startsWith('/oauth/') && !p.startsWith('/oauth/applications');

/**
 * The database is unreachable (PostgreSQL restarting, say): 503 with Retry-After, in the format of
 * the endpoint asked (RFC 6749's `temporarily_unavailable`, our JSON error, or a page), logged as a
 * warning: nothing is wrong with the request or with us, and a retry will do.
 */
function answerUnavailable(ctx: Parameters<Middleware<AppState>>[0], render: Renderer): void {
  ctx.state.log?.warn('database unavailable: answered 503');
  ctx.set('Retry-After', '5');
  ctx.set('Cache-Control', 'no-store');
  const message = 'The service is temporarily unavailable; try again in a moment';
  if (isBrowserProtocolPath(ctx.path) && ctx.accepts('json', 'html') === 'html') {
    render.error(ctx as never, 503, 'Temporarily unavailable', 'Please try again in a moment.');
  } else if (isOAuthProtocolPath(ctx.path) && ctx.accepts('json', 'html') !== 'html') {
    ctx.status = 503;
    ctx.body = { error: 'temporarily_unavailable', error_description: message };
  } else if (isApiPath(ctx.path) || !ctx.accepts('html')) {
    ctx.status = 503;
    ctx.body = new AppError('SERVICE_UNAVAILABLE', message).toBody();
  } else {
    render.error(ctx as never, 503, 'Temporarily unavailable', 'Please try again in a moment.');
  }
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
 * Turns every failure into a documented answer: JSON `{"error":{"code","message"}}` for APIs, a
 * friendly page for browsers. Never a stack trace; unexpected errors are logged with the request id.
 */
export function errorHandler(render: Renderer): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('NOT_FOUND', 'No such endpoint');
      }
      // The routers' allowedMethods() answer a known path with another method by a bare status
      // (405, or 501 for a method they do not know, e.g. PROPFIND): answer in our format, as a 4xx.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
        throw new AppError('METHOD_NOT_ALLOWED', `Method ${ctx.method.slice(0, 20)} is not allowed here`);
      }
    } catch (raw) {
      if (isDatabaseUnavailable(raw)) return answerUnavailable(ctx, render);
      const err = toAppError(raw) ?? fromHttpError(raw as never);
      const appError = err ?? new AppError('INTERNAL', 'Internal server error');
      if (!err) ctx.state.log?.error({ err: raw }, 'unhandled error');
      if (appError.headers) ctx.set(appError.headers);
      if (isApiPath(ctx.path) || !ctx.accepts('html')) {
        ctx.status = appError.status;
        ctx.body = appError.toBody();
      } else {
        const title =
          appError.status === 404
            ? 'Page not found'
            : appError.status >= 500
              ? 'Something went wrong'
              : 'That did not work';
        render.error(
          ctx as never,
          appError.status,
          title,
          appError.status >= 500 ? 'Please try again in a moment.' : appError.message,
        );
      }
    }
  };
}
