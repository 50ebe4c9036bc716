import type { IncomingMessage } from 'node:http';
import type { AppContext } from './context.ts';

/** How much of a refused body is read and thrown away after the answer, and for how long. */
const DRAIN_MAX_BYTES = 4 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;

/**
 * After answering a request whose body was not read to the end (a 413 from a body limit, a 401
 * before the body was needed), read the rest of the body and throw it away, so the connection can
 * carry the next request and the client sees the answer rather than a TCP reset. Closing a socket
 * with unread data in it makes the kernel send RST, which can discard the answer in flight (RFC 9112
 * §9.6 "lingering close"). Past DRAIN_MAX_BYTES or DRAIN_MAX_MS the socket is closed after all.
 */
export function drainUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let seen = 0;
  const socket = req.socket;
  const timer = setTimeout(() => socket.destroy(), DRAIN_MAX_MS);
  timer.unref();
  const stop = () => clearTimeout(timer);
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DRAIN_MAX_BYTES) {
      stop();
      socket.destroy();
    }
  });
  req.once('end', stop);
  req.once('close', stop);
  req.on('error', stop);
  // A body parser that gave up may still pipe the request into a paused inflate stream, whose
  // back-pressure would pause it again: cut every pipe first.
  req.unpipe();
  req.resume();
}

/** Whether the request says it has a body: a Content-Length above 0 or a Transfer-Encoding (RFC 9112 §6.3). */
export function declaresBody(req: IncomingMessage): boolean {
  const coding = req.headers['transfer-encoding'];
  return (coding !== undefined && coding !== '') || Number(req.headers['content-length']) > 0;
}

/**
 * Drains whatever of the request body is left once the response is sent. A request that declares
 * no body has nothing to leave unread, so it is not watched.
 */
export function drainWhenAnswered(ctx: AppContext): void {
  if (!declaresBody(ctx.req)) return;
  ctx.res.once('finish', () => drainUnreadBody(ctx.req));
}
