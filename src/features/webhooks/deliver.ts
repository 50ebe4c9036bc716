import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { guardedLookup, isPublicAddress } from './ssrf.ts';

export interface DeliveryOutcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The first EXCERPT_BYTES of the response body, as read (see `excerptText`); null if none came. */
  responseExcerpt: Buffer | null;
}

/** How much of a response body is kept to show: enough to read an error message, never a whole page. */
export const EXCERPT_BYTES = 1024;
/** Sent with every delivery (and shown in the delivery log). */
export const WEBHOOK_USER_AGENT = 'Latchkey-Webhooks/1';

/**
 * A response excerpt as text a person can read: UTF-8 (an invalid or cut sequence becomes U+FFFD),
 * control characters removed except newline and tab, so it cannot move a terminal's cursor or hide
 * text. It is still the receiver's text: pages escape it and never render it as HTML.
 */
export function excerptText(bytes: Buffer, maxChars = EXCERPT_BYTES): string {
  return bytes
    .toString('utf8')
    .replace(/[^\P{Cc}\n\t]/gu, '')
    .slice(0, maxChars);
}

/** `signal` cuts the attempt short (shutdown); the outcome then says so and is not the receiver's. */
export type Deliver = (
  url: string,
  body: string,
  headers: Record<string, string>,
  signal?: AbortSignal,
) => Promise<DeliveryOutcome>;

/**
 * POSTs one webhook with node:http(s): no redirects followed (a 3xx is a failure), the response
 * body read and dropped (at most 64 KiB; only its first EXCERPT_BYTES are kept), and the SSRF guard
 * on every connection. Two clocks:
 * `connectTimeoutMs` for resolving and connecting (an address that drops packets frees its slot
 * quickly), and `timeoutMs` for the whole attempt, however slowly the receiver trickles bytes.
 */
export function createDeliver(opts: { allowPrivate: boolean; timeoutMs: number; connectTimeoutMs: number }): Deliver {
  const lookup = guardedLookup(opts.allowPrivate);
  return (url, body, headers, signal) =>
    new Promise((resolve) => {
      const started = performance.now();
      const timers: NodeJS.Timeout[] = [];
      const kept: Buffer[] = [];
      let keptBytes = 0;
      const done = (statusCode: number | null, error: string | null) => {
        timers.forEach(clearTimeout);
        resolve({
          responseExcerpt: keptBytes > 0 ? Buffer.concat(kept) : null,
          ok: error === null && statusCode !== null && statusCode >= 200 && statusCode < 300,
          statusCode,
          latencyMs: Math.round(performance.now() - started),
          error:
            error ?? (statusCode !== null && (statusCode < 200 || statusCode >= 300) ? `HTTP ${statusCode}` : null),
        });
      };
      const target = new URL(url);
      // An IP literal never reaches `lookup` (nothing to resolve), so it is checked here.
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (!opts.allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
        return done(null, `${host} is a non-public address`);
      }
      const client = target.protocol === 'https:' ? https : http;
      const req = client.request(
        target,
        {
          method: 'POST',
          headers: {
            ...headers,
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': WEBHOOK_USER_AGENT,
          },
          lookup,
          agent: false,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            // Only the excerpt is held; the rest is counted and dropped as it arrives.
            if (keptBytes < EXCERPT_BYTES) {
              const part = chunk.subarray(0, EXCERPT_BYTES - keptBytes);
              kept.push(Buffer.from(part));
              keptBytes += part.length;
            }
            if (seen > 65_536) res.destroy();
          });
          res.on('end', () => done(res.statusCode ?? null, null));
          res.on('close', () => done(res.statusCode ?? null, null));
          res.on('error', () => done(res.statusCode ?? null, null));
        },
      );
      timers.push(setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs));
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connecting = setTimeout(
          () => req.destroy(new Error(`connect timed out after ${opts.connectTimeoutMs} ms`)),
          opts.connectTimeoutMs,
        );
        timers.push(connecting);
        socket.once('connect', () => clearTimeout(connecting));
      });
      req.on('error', (err) => done(null, err.message));
      req.end(body);
    });
}
