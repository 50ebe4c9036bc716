import querystring from 'node:querystring';
import type { Middleware } from 'koa';
import type { AppContext, AppState, OAuthParams } from '../http/context.ts';

const MAX_BYTES = 64 * 1024;

function oauthError(ctx: AppContext, status: number, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: description };
}

/**
 * The body as text, or null past `maxBytes`. Too large: stop listening and pause, but never destroy
 * the request (leaving a `for await` early would, and the client would see a connection reset
 * instead of the 413); drainUnreadBody (src/http/drain-body.ts) discards the rest after the answer.
 */
export function readBody(req: NodeJS.ReadableStream, maxBytes = MAX_BYTES): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: string | null, err?: unknown) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        done(null);
      } else chunks.push(chunk);
    };
    // A form body usually arrives in one chunk: decoded where it lies, not copied into a new buffer.
    const onEnd = () => done((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'));
    const onError = (err: unknown) => done(null, err);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** A JSON object's top-level members as form parameters, or why it cannot be one. */
function formOfJson(raw: string): OAuthParams | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return 'request body is not valid JSON';
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return 'request body must be a JSON object';
  const params: OAuthParams = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      return `parameter ${key} must be a string`;
    }
    params[key] = String(value);
  }
  return params;
}

/** The first value of a parameter (a repeated one is refused later by oidc-provider itself). */
export function param(params: OAuthParams | undefined, name: string): string | undefined {
  const value = params?.[name];
  return Array.isArray(value) ? value[0] : value;
}

const FORM = 'application/x-www-form-urlencoded';

/**
 * `ctx.is(FORM, 'application/json')`: the type of a body this step reads, or false (another type)
 * or null (no body). The header almost every client sends, exactly FORM, is answered without
 * parsing it as a media type; the body test is type-is's own (a Transfer-Encoding, or a
 * Content-Length that reads as a number).
 */
function bodyTypeOf(ctx: AppContext): string | false | null {
  const headers = ctx.req.headers;
  const hasBody = headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(headers['content-length']));
  if (headers['content-type'] === FORM && hasBody) return FORM;
  return ctx.is(FORM, 'application/json');
}

/**
 * The first step in front of the token, introspection and revocation endpoints: reads the body
 * once and parses it once into `ctx.state.oauthParams`, for our steps and for oidc-provider.
 *
 * oidc-provider reads only form bodies there, but clients also post JSON: a JSON object's
 * top-level string (or number/boolean) members become form parameters and the content type is
 * rewritten to match. Malformed JSON gets an RFC 6749 error instead of reaching the provider.
 * oidc-provider takes the parsed parameters from `request.body` when the stream has already been
 * read (`lib/shared/selective_body.js`), so it never reads or parses the raw body again. Other
 * content types are left unread: the provider refuses them in its own words.
 */
export function jsonToForm(): Middleware<AppState> {
  return async (ctx, next) => {
    const type = bodyTypeOf(ctx);
    if (!type) {
      ctx.state.oauthParams = {};
      return next();
    }
    const raw = await readBody(ctx.req);
    if (raw === null) return oauthError(ctx, 413, 'request body is too large');
    const params = type === 'application/json' ? formOfJson(raw) : (querystring.parse(raw) as OAuthParams);
    if (typeof params === 'string') return oauthError(ctx, 400, params);
    ctx.state.oauthParams = params;
    (ctx.request as { body?: unknown }).body = params;
    if (type === 'application/json') ctx.req.headers['content-type'] = 'application/x-www-form-urlencoded';
    return next();
  };
}
