import http from 'node:http';
import { createPostgresStore } from './features/rate-limit/postgres-store.ts';
import { createClusterStore } from './features/rate-limit/cluster-store.ts';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { createPostgresPool, type DB } from './db/client.ts';
import { buildApp, type BuiltApp } from './app.ts';
import { prepare } from './boot/prepare.ts';
import type { Deliver } from './features/webhooks/deliver.ts';
import { createMetrics, type MetricsOptions } from './http/metrics.ts';
import { createCredentialEvents } from './shared/credential-events.ts';
import { createCredentialEventsRepo } from './shared/credential-events.repo.ts';
import { startCredentialRelay } from './shared/credential-relay.ts';
import { announceEmail } from './features/email/email.ts';

export interface RunningServer {
  url: string;
  port: number;
  built: BuiltApp;
  db: DB;
  /**
   * Stops accepting, finishes in-flight requests (cut after `graceMs`, default 10 s), stops the
   * webhook worker and timers, flushes buffered writes, closes the database.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/**
 * Boots Latchkey: prepare (database -> migrations -> keys) -> app -> listen. Used by `npm start` and by the
 * tests, which pass PORT=0 and get the real server on a free port.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  opts: {
    now?: () => number;
    deliver?: Deliver;
    webhookPollMs?: number;
    /** How often the email worker looks for due mail (ms, default 1000). */
    emailPollMs?: number;
    validateResponses?: boolean;
    /** `memory` keeps counters in this process even on PostgreSQL (tests that drive a clock). */
    rateLimits?: 'shared' | 'memory';
    /** Process metrics, cluster aggregation (the CLI's `serve`); tests leave it out. */
    metrics?: MetricsOptions;
    /**
     * A worker of `serve --workers N`: without a shared database store (SQLite), rate limits are
     * counted in the primary, so the workers share one count (see serve.ts).
     */
    clusterWorker?: boolean;
  } = {},
): Promise<RunningServer> {
  const { db, keys, secretsKey } = await prepare(config, logger);
  // Several instances share one PostgreSQL database, so they share rate-limit counters there too.
  const sharedLimits = config.database.kind === 'postgres' && opts.rateLimits !== 'memory';
  const rateLimitPool =
    sharedLimits && config.database.kind === 'postgres' ? createPostgresPool(config.database.url, 5) : null;
  const rateLimitStore = rateLimitPool
    ? createPostgresStore(rateLimitPool)
    : opts.clusterWorker
      ? createClusterStore()
      : undefined;
  // Every instance on this database hears the credential changes of the others (and they ours).
  const credentialEvents = createCredentialEvents();
  const relay = await startCredentialRelay({
    repo: createCredentialEventsRepo(db),
    events: credentialEvents,
    pollMs: config.CREDENTIAL_EVENTS_POLL_MS,
    listenUrl: config.database.kind === 'postgres' && config.CREDENTIAL_EVENTS_LISTEN ? config.database.url : null,
    logger,
  });
  const built = buildApp({
    config,
    db,
    logger,
    keys,
    secretsKey,
    credentialEvents,
    ...(rateLimitStore ? { rateLimitStore } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.deliver ? { deliver: opts.deliver } : {}),
    validateResponses: opts.validateResponses ?? false,
    ...(opts.metrics ? { metrics: createMetrics(opts.metrics) } : {}),
  });
  built.webhookWorker.start(opts.webhookPollMs ?? 1000);
  announceEmail(config, { destination: built.services.mailDestination }, logger);
  built.services.mailWorker.start(opts.emailPollMs ?? 1000);
  const handle = built.app.callback();
  let closing = false;
  const server = http.createServer((req, res) => {
    // While stopping, a request on a kept-alive connection is answered and the connection closed.
    if (closing) res.setHeader('Connection', 'close');
    return handle(req, res);
  });
  server.keepAliveTimeout = 5_000;
  // Everything started above stops again when the server closes or fails to listen: the workers
  // first, then what they use.
  const stopWorkers = () => Promise.all([built.webhookWorker.stop(), built.services.mailWorker.stop()]);
  const release = async () => {
    await built.stop();
    await relay.stop();
    await rateLimitPool?.end();
    await db.destroy();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.PORT, resolve);
    });
  } catch (err) {
    // A taken port leaves nothing running behind it, so the caller may try another.
    await stopWorkers();
    await release();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    built,
    db,
    async close({ graceMs = 10_000 } = {}) {
      closing = true;
      // Webhook deliveries stop alongside the requests, not after them, so the two waits overlap.
      const workersStopped = stopWorkers();
      await new Promise<void>((resolve) => {
        // Stop accepting; connections close as their in-flight requests finish (checked every
        // 50 ms, as a kept-alive connection turns idle), and are cut after the grace period.
        const idle = setInterval(() => server.closeIdleConnections(), 50);
        const cut = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearInterval(idle);
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections();
      });
      await workersStopped;
      await release();
    },
  };
}
