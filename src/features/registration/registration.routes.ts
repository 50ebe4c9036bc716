import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { DomainError, NotFound, Unauthenticated, ValidationError } from '../../domain/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Policy } from '../rate-limit/decide.ts';
import { setRateLimitHeaders, type RateLimiter } from '../rate-limit/rate-limiter.ts';
import type { RegistrationService } from './registration.service.ts';
import { provenanceOf } from '../../http/request-facts.ts';

export const REGISTRATION_PATH = '/oauth/register';

/** An RFC 7591 §3.2.2 / RFC 6750 §3.1 error answer. */
function answerError(ctx: AppContext, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (status === 401) ctx.set('WWW-Authenticate', `Bearer error="${error}"`);
  ctx.body = { error, error_description: description };
}

/**
 * Our refusals in the RFCs' words: a bad redirect URI is `invalid_redirect_uri`, any other bad
 * metadata (and a body that is not a JSON object) `invalid_client_metadata`, a token that opens
 * nothing `invalid_token` (401). Anything else is not ours to word and goes on to the error handler.
 */
function rfcErrors(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (err instanceof ValidationError) {
        const redirect = err.field?.startsWith('redirect_uris') ?? false;
        return answerError(ctx, 400, redirect ? 'invalid_redirect_uri' : 'invalid_client_metadata', err.message);
      }
      if (err instanceof Unauthenticated) {
        return answerError(ctx, 401, 'invalid_token', 'The access token is missing, unknown, expired or used up');
      }
      if (err instanceof NotFound) return answerError(ctx, 404, 'not_found', err.message);
      // The body parser's refusals: JSON that does not parse (400), a body over the limit (413).
      if (!(err instanceof DomainError) && (status === 400 || status === 413)) {
        const description = status === 413 ? 'the client metadata is too large' : 'the body is not valid JSON';
        return answerError(ctx, status, 'invalid_client_metadata', description);
      }
      throw err;
    }
  };
}

/** Counts every registration request per client address (RATE_LIMIT_REGISTRATION); 429 over it. */
function limitPerAddress(limiter: RateLimiter, policy: Policy): Middleware<AppState> {
  return async (ctx, next) => {
    const decision = await limiter.check(`registration:ip:${ctx.ip}`, policy);
    setRateLimitHeaders(ctx, decision, limiter.now());
    if (!decision.allowed) {
      ctx.set('Retry-After', String(decision.retryAfter));
      return answerError(ctx, 429, 'rate_limited', `Too many registrations; retry after ${decision.retryAfter} s`);
    }
    await next();
  };
}

/** RFC 7591 §3 and RFC 7592 §2 carry the token as `Authorization: Bearer`; nothing else is read. */
function bearerOf(ctx: AppContext): string | null {
  const match = /^Bearer +([\x21-\x7e]+)\s*$/i.exec(ctx.get('Authorization'));
  return match ? match[1]! : null;
}

/** A JSON body is required where metadata is sent (RFC 7591 §3.1). */
function requireJson(ctx: AppContext): unknown {
  if (!ctx.is('application/json')) throw new ValidationError('the client metadata must be sent as application/json');
  return (ctx.request as { body?: unknown }).body;
}

/**
 * POST /oauth/register (RFC 7591) and GET/PUT/DELETE /oauth/register/:clientId (RFC 7592):
 * rate limited per address, JSON in and out, errors in the RFCs' shape. Answers are never cached:
 * they carry credentials.
 */
export function registrationRouter(deps: {
  registration: RegistrationService;
  limiter: RateLimiter;
  policy: Policy;
}): Router<AppState> {
  const { registration } = deps;
  const router = new Router<AppState>({ prefix: REGISTRATION_PATH });
  router.use(
    rfcErrors(),
    limitPerAddress(deps.limiter, deps.policy),
    bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }) as Middleware<AppState>,
    async (ctx, next) => {
      ctx.set('Cache-Control', 'no-store');
      await next();
    },
  );
  router.post('/', async (ctx) => {
    ctx.body = await registration.register(
      requireJson(ctx as AppContext),
      bearerOf(ctx as AppContext),
      provenanceOf(ctx as AppContext),
    );
    ctx.status = 201;
  });
  router.get('/:clientId', async (ctx) => {
    ctx.body = await registration.read(ctx.params['clientId']!, bearerOf(ctx as AppContext));
  });
  router.put('/:clientId', async (ctx) => {
    const c = ctx as AppContext;
    ctx.body = await registration.update(ctx.params['clientId']!, bearerOf(c), requireJson(c), provenanceOf(c));
  });
  router.delete('/:clientId', async (ctx) => {
    await registration.remove(ctx.params['clientId']!, bearerOf(ctx as AppContext), provenanceOf(ctx as AppContext));
    ctx.status = 204;
  });
  return router;
}
