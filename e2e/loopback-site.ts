import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A site of the journey's own on a loopback port: an application's pages, callback, receivers. */
export interface LoopbackSite {
  /** `http://<host>:<port>`, no trailing slash. */
  origin: string;
  /** Stops listening and drops open connections (Chromium keeps some alive). */
  close(): Promise<void>;
}

/** What an application's redirect URI answers in the journeys: a page to land on. */
export const callbackPage: http.RequestListener = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<!doctype html><title>Callback</title><p>Callback received</p>');
};

/**
 * Serves `handler` on a free port of `host` (127.0.0.1 unless a journey needs another site, e.g.
 * `localhost` for a cross-site request to the server on 127.0.0.1).
 */
export async function startLoopbackSite(
  handler: http.RequestListener = callbackPage,
  host = '127.0.0.1',
): Promise<LoopbackSite> {
  const srv = http.createServer(handler);
  await new Promise<void>((resolve) => srv.listen(0, host, resolve));
  return {
    origin: `http://${host}:${(srv.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  };
}

/** An application's callback alone: `url` is its redirect URI (`/callback` on a loopback site). */
export async function startCallbackSite(): Promise<{ url: string; close(): Promise<void> }> {
  const site = await startLoopbackSite(callbackPage);
  return { url: `${site.origin}/callback`, close: site.close };
}
