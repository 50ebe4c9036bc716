import type { Logger } from 'pino';

/**
 * Periodic clean-up (expired tokens, codes, sessions). Runs off the request path; a failed run
 * loses nothing and the next one retries. Returns a stop function.
 */
export function startHousekeeping(
  logger: Logger,
  tasks: Array<() => Promise<unknown>>,
  everyMs = 10 * 60 * 1000,
): () => void {
  const timer = setInterval(() => {
    for (const task of tasks) {
      task().catch((err: unknown) => logger.warn({ err }, 'housekeeping task failed'));
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
