/**
 * Several real Latchkey processes on one database, as behind a load balancer: they share the
 * ISSUER (the first one's URL), the secrets key and the JWT secret. The first starts alone (it
 * applies the migrations), the others then start side by side.
 */
import crypto from 'node:crypto';
import { freePort, spawnServer, type ServerProcess } from '../reliability/server-process.ts';
import { ROOMY_LIMITS } from '../support/server.ts';
import { sleep } from '../reliability/helpers.ts';
import { TEST_JWT_SECRET } from '../support/world.ts';

export interface InstanceSpec {
  /** Settings of this instance only, on top of the shared ones. */
  env?: Record<string, string>;
}

export async function startInstances(
  databaseUrl: string,
  specs: InstanceSpec[],
  sharedEnv: Record<string, string> = {},
): Promise<ServerProcess[]> {
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

export interface Probe {
  /** What is asked where, for messages ("B: the key at /v2/auth/test"). */
  label: string;
  /** One request: true when the answer is a refusal. */
  refused(): Promise<boolean>;
}

export interface Convergence {
  label: string;
  /** When (ms from the start) the last request that was still accepted was sent; null if none. */
  lastAcceptedSentMs: number | null;
  /** When the first request that was refused was sent; null if none was within `giveUpMs`. */
  refusedSentMs: number | null;
}

/**
 * From now, runs every probe at once, each in its own loop (a request every ~20 ms), until it
 * sees a refusal or `giveUpMs` passes. Times are those at which requests were sent: a request sent
 * at t and accepted was accepted at t or later, whatever the load on the machine.
 */
export async function untilRefused(probes: Probe[], giveUpMs = 3000): Promise<Convergence[]> {
  const start = performance.now();
  return Promise.all(
    probes.map(async ({ label, refused }) => {
      let lastAcceptedSentMs: number | null = null;
      while (performance.now() - start < giveUpMs) {
        const sent = Math.round(performance.now() - start);
        if (await refused()) return { label, lastAcceptedSentMs, refusedSentMs: sent };
        lastAcceptedSentMs = sent;
        await sleep(20);
      }
      return { label, lastAcceptedSentMs, refusedSentMs: null };
    }),
  );
}

/** Asserts that every probe was refused, and that none accepted a request sent 1 s or more after the start. */
export function assertRefusedWithinOneSecond(results: Convergence[]): void {
  for (const r of results) {
    if (r.refusedSentMs === null)
      throw new Error(`${r.label}: still accepted after ${r.lastAcceptedSentMs} ms, never refused`);
    if (r.lastAcceptedSentMs !== null && r.lastAcceptedSentMs >= 1000)
      throw new Error(
        `${r.label}: still accepted a request sent ${r.lastAcceptedSentMs} ms after the revocation was answered`,
      );
  }
}
