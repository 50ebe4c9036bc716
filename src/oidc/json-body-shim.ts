import type { Middleware } from 'koa';
import type { AppState } from '../http/context.ts';

const JSON_ENDPOINTS = new Set(['/oauth/token', '/oauth/introspect', '/oauth/revoke']);
const MAX_BYTES = 64 * 1024;

function oauthError(ctx: Parameters<Middleware>[0], status: number, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: description };
}

/**
 * The body as text, or null past MAX_BYTES. Too large: stop listening and pause, but never destroy
 * the request (leaving a `for await` early would, and the client would see a connection reset
 * instead of the 413); drainUnreadBody (src/http/drain-body.ts) discards the rest after the answer.
 */
function readBody(req: NodeJS.ReadableStream): Promise<string | null> {
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
      if (size > MAX_BYTES) {
        req.pause();
        done(null);
      } else chunks.push(chunk);
    };
    const onEnd = () => done(Buffer.concat(chunks).toString('utf8'));
    const onError = (err: unknown) => done(null, err);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * The form body of a request to one of the provider's endpoints, read once and left on `req.body`
 * for the provider (its fallback when the stream was already read). Null when the body was too
 * large (the error is already answered). Non-form bodies read as empty and stay unread.
 */
export async function readFormBody(ctx: Parameters<Middleware>[0]): Promise<string | null> {
  const req = ctx.req as unknown as { body?: unknown };
  if (typeof req.body === 'string') return req.body;
  if (!ctx.is('application/x-www-form-urlencoded')) return '';
  const raw = await readBody(ctx.req);
  if (raw === null) {
    oauthError(ctx, 413, 'request body is too large');
    return null;
  }
  req.body = raw;
  return raw;
}

/**
 * oidc-provider reads only form bodies at its token, introspection and revocation endpoints, but
 * the documented examples post JSON. For a JSON request there, read the body, turn its top-level string (or
 * number/boolean) members into a form string on `req.body` (the provider's fallback when the
 * stream was already read), and rewrite the content headers to match. Malformed JSON gets an
 * RFC 6749 error instead of reaching the provider.
 */
export function jsonBodyShim(): Middleware<AppState> {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !JSON_ENDPOINTS.has(ctx.path) || !ctx.is('application/json')) {
      return next();
    }
    const raw = await readBody(ctx.req);
    if (raw === null) return oauthError(ctx, 413, 'request body is too large');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return oauthError(ctx, 400, 'request body is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return oauthError(ctx, 400, 'request body must be a JSON object');
    }
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(parsed)) {
      if (value === null || value === undefined) continue;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        form.append(key, String(value));
      } else {
        return oauthError(ctx, 400, `parameter ${key} must be a string`);
      }
    }
    const body = form.toString();
    (ctx.req as unknown as { body: string }).body = body;
    ctx.req.headers['content-type'] = 'application/x-www-form-urlencoded';
    ctx.req.headers['content-length'] = String(Buffer.byteLength(body));
    return next();
  };
}
