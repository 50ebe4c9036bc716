import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { openDatabase, migrateToLatest, type DB } from './db/client.ts';
import { buildApp, type BuiltApp } from './app.ts';
import { loadServerKeys } from './oidc/keys.ts';
import { createServerSecretsRepo } from './oidc/server-secrets.repo.ts';
import { loadSecretsKey } from './shared/encryption.ts';
import type { Deliver } from './features/webhooks/deliver.ts';

export interface RunningServer {
  url: string;
  port: number;
  built: BuiltApp;
  db: DB;
  /** Stops accepting, finishes in-flight requests, stops timers, closes the database. */
  close(): Promise<void>;
}

/**
 * Boots Latchkey: database -> migrations -> keys -> app -> listen. Used by `npm start` and by the
 * tests, which pass PORT=0 and get the real server on a free port.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  opts: { now?: () => number; deliver?: Deliver; webhookPollMs?: number; validateResponses?: boolean } = {},
): Promise<RunningServer> {
  const db = openDatabase(config);
  await migrateToLatest(db);
  const keys = await loadServerKeys(createServerSecretsRepo(db), Date.now());
  const secrets = loadSecretsKey(config.SECRETS_KEY, config.secretsKeyFile);
  if (secrets.generated) logger.warn({ file: config.secretsKeyFile }, 'generated a secrets key file; set SECRETS_KEY to manage it yourself');
  const built = buildApp({ config, db, logger, keys, secretsKey: secrets.key, ...(opts.now ? { now: opts.now } : {}), ...(opts.deliver ? { deliver: opts.deliver } : {}), validateResponses: opts.validateResponses ?? false });
  built.webhookWorker.start(opts.webhookPollMs ?? 1000);
  const server = http.createServer(built.app.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    built,
    db,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await built.stop();
      await db.destroy();
    },
  };
}
