/**
 * Several real Latchkey processes on one database, as behind a load balancer: they share the
 * ISSUER (the first one's URL), the secrets key and the JWT secret. The first starts alone (it
 * applies the migrations), the others then start side by side.
 */
import crypto from 'node:crypto';
import { freePort, spawnServer, type ServerProcess } from '../reliability/server-process.ts';
import { ROOMY_LIMITS } from '../testing/server.ts';
import { TEST_JWT_SECRET } from '../testing/credentials.ts';
import { sleep } from '../reliability/helpers.ts';

export interface InstanceSpec {
  /** Settings of this instance only, on top of the shared ones. */
  env?: Record<string, string>;
}

export async function startInstances(databaseUrl: string, specs: InstanceSpec[], sharedEnv: Record<string, string> = {}): Promise<ServerProcess[]> {
  const ports = await Promise.all(specs.map(() => freePort()));
  const env = {
    DATABASE_URL: databaseUrl,
    ISSUER: `http://127.0.0.1:${ports[0]}`,
    SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'error',
    ...ROOMY_LIMITS,
    RATE_LIMIT_SIGNUP: '1000000,100000',
    ...sharedEnv,
  };
  const first = await spawnServer({ ...env, ...specs[0]!.env }, ports[0]);
  const rest = await Promise.all(specs.slice(1).map((spec, i) => spawnServer({ ...env, ...spec.env }, ports[i + 1])));
  return [first, ...rest];
}

export interface Convergence {
  /** The instance's URL. */
  url: string;
  /** Milliseconds from the start until its first refusal; null if it never refused in time. */
  refusedAfterMs: number | null;
}

/**
 * From now, asks every instance at once, each in its own loop (a fresh request every ~20 ms),
 * whether `refused(url)` holds, until it does or `giveUpMs` passes. Returns when each first did.
 */
export async function untilRefused(urls: string[], refused: (url: string) => Promise<boolean>, giveUpMs = 3000): Promise<Convergence[]> {
  const start = performance.now();
  return Promise.all(
    urls.map(async (url) => {
      while (performance.now() - start < giveUpMs) {
        if (await refused(url)) return { url, refusedAfterMs: Math.round(performance.now() - start) };
        await sleep(20);
      }
      return { url, refusedAfterMs: null };
    }),
  );
}
