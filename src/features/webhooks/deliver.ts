import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { guardedLookup, isPublicAddress } from './ssrf.ts';

export interface DeliveryOutcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
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
 * body read and dropped (at most 64 KiB), and the SSRF guard on every connection. Two clocks:
 * `connectTimeoutMs` for resolving and connecting (an address that drops packets frees its slot
 * quickly), and `timeoutMs` for the whole attempt, however slowly the receiver trickles bytes.
 */
export function createDeliver(opts: { allowPrivate: boolean; timeoutMs: number; connectTimeoutMs: number }): Deliver {
  const lookup = guardedLookup(opts.allowPrivate);
  return (url, body, headers, signal) =>
    new Promise((resolve) => {
      const started = performance.now();
      const timers: NodeJS.Timeout[] = [];
      const done = (statusCode: number | null, error: string | null) => {
        timers.forEach(clearTimeout);
        resolve({
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
            'user-agent': 'Latchkey-Webhooks/1',
          },
          lookup,
          agent: false,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
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
