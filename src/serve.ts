import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { startServer, type RunningServer } from './server.ts';
import { prepare } from './boot/prepare.ts';
import { serveClusterMetrics } from './http/metrics.ts';
import { serveClusterRateLimits } from './features/rate-limit/cluster-store.ts';
import { announceSetupLink, issueSetupLink } from './features/setup/setup.service.ts';
import { createSetupRepo } from './features/setup/setup.repo.ts';

/**
 * Runs one server (`npm start`, `latchkey serve`, or one worker of `latchkey serve --workers N`)
 * until SIGTERM or SIGINT, then stops gracefully: stop accepting, finish in-flight requests, stop
 * the webhook worker and timers, flush buffered writes, close the database, exit 0.
 */
export async function serveProcess(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const worker = cluster.isWorker;
  let server: RunningServer;
  try {
    server = await startServer(config, logger, {
      metrics: { processMetrics: true, clusterWorker: worker },
      clusterWorker: worker,
    });
  } catch (err) {
    process.stderr.write(`latchkey: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const running = server;
  logger.info(
    { port: running.port, issuer: config.ISSUER },
    `Latchkey listening on ${config.ISSUER} (port ${running.port})`,
  );
  // The first-run link: printed once per start, by the primary when there are workers.
  if (!worker)
    await announceSetupLink(running.built.services.setup, logger).catch((err: Error) =>
      logger.error({ err: { message: err.message } }, 'could not issue the first-run setup link'),
    );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    let code = 0;
    try {
      await running.close();
      logger.info('stopped');
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      code = 1;
    }
    logger.flush();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A worker whose primary is gone stops too, rather than serving on unsupervised.
  if (worker) process.on('disconnect', () => void stop('primary gone'));
}

/** A worker that dies within this long of starting counts as a failed start. */
const EARLY_DEATH_MS = 10_000;
/** This many failed starts in a row (a bad port, a broken database): the primary gives up. */
const MAX_EARLY_DEATHS = 5;
/** Workers still running this long after SIGTERM are killed. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * The primary of `latchkey serve --workers N` (node:cluster): prepares the database once
 * (migrations, signing and cookie keys, the secrets key file), keeps the workers' shared rate-limit
 * counters (on SQLite; PostgreSQL shares them in the database), forks N workers that share the port,
 * replaces a worker that dies, and on SIGTERM/SIGINT stops every worker gracefully, then exits 0.
 * Workers run `workerScript` when given (the bundled server), else this same command, where
 * `cluster.isWorker` sends them to `serveProcess`.
 */
export async function serveCluster(config: Config, workers: number, workerScript?: string): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL).child({ role: 'primary' });
  try {
    // The primary makes the secrets key and the server keys once, before workers race for them.
    const { db } = await prepare(config, logger);
    try {
      const setup = createSetupRepo(db);
      await announceSetupLink({ issueLink: () => issueSetupLink(setup, config.ISSUER, Date.now) }, logger);
    } finally {
      await db.destroy();
    }
  } catch (err) {
    process.stderr.write(`latchkey: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  serveClusterMetrics();
  serveClusterRateLimits();

  const startedAt = new Map<number, number>();
  let stopping = false;
  let earlyDeaths = 0;
  let exitCode = 0;

  // glibc gives each thread that allocates its own malloc arena and keeps what is freed in each:
  // one arena holds a busy worker ~20 MiB lower (bench/README.md). Read at a process's start, so it
  // is set for the workers here; `npm start` sets it for a single process.
  const workerEnv = { MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? '1' };
  if (workerScript) cluster.setupPrimary({ exec: workerScript, args: [] });
  const fork = () => {
    if (stopping) return;
    const w = cluster.fork(workerEnv);
    startedAt.set(w.id, Date.now());
  };
  const finish = () => {
    logger.info({ exitCode }, 'all workers stopped');
    logger.flush();
    process.exit(exitCode);
  };
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: startedAt.size }, 'shutting down');
    const all = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    for (const w of all()) w.process.kill('SIGTERM');
    setTimeout(() => {
      logger.error('workers did not stop in time; killing them');
      exitCode = 1;
      for (const w of all()) w.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS).unref();
    if (startedAt.size === 0) finish();
  };

  cluster.on('exit', (worker, code, signal) => {
    const began = startedAt.get(worker.id) ?? 0;
    startedAt.delete(worker.id);
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (startedAt.size === 0) finish();
      return;
    }
    earlyDeaths = Date.now() - began < EARLY_DEATH_MS ? earlyDeaths + 1 : 0;
    if (earlyDeaths >= MAX_EARLY_DEATHS) {
      logger.fatal(
        { pid: worker.process.pid, code, signal },
        `workers keep failing within ${EARLY_DEATH_MS / 1000} s of starting; giving up`,
      );
      exitCode = 1;
      shutdown('workers failing');
      return;
    }
    logger.warn({ workerPid: worker.process.pid, code, signal }, 'worker exited; starting another');
    setTimeout(fork, earlyDeaths ? Math.min(1000 * earlyDeaths, 5000) : 0);
  });

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  for (let i = 0; i < workers; i++) fork();
  logger.info({ workers, port: config.PORT }, `Latchkey primary started ${workers} workers`);
}
