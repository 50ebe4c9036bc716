import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { prepare } from '../boot/prepare.ts';
import { createServices, type Services } from '../services.ts';
import { CLI_ACTOR } from '../features/audit/audit.ts';
import type { DB } from '../db/client.ts';

/**
 * Runs `fn` on the services of the database the environment names (booted as the server boots,
 * without HTTP), then stops them and closes the database. The webhook worker is not started: what a
 * command queues, a running server delivers.
 */
export async function withServices<T>(fn: (services: Services, db: DB) => Promise<T>): Promise<T> {
  const infra = await prepare(loadConfig(), createLogger('silent'));
  try {
    const services = createServices(infra, { actorOutsideRequests: CLI_ACTOR });
    try {
      return await fn(services, infra.db);
    } finally {
      await services.stop();
    }
  } finally {
    await infra.db.destroy();
  }
}
