/**
 * PostgreSQL for the bench, as CI runs it: a local cluster reached through BENCH_POSTGRES_URL (or
 * TEST_POSTGRES_URL), a role allowed to CREATE DATABASE. The bench makes databases of its own and
 * drops them at the end, and reads the CPU of the backends serving them from /proc (the cluster runs
 * on this machine).
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { cpuMsOf } from './proc.ts';

export const benchPostgresUrl = (): string | null =>
  process.env['BENCH_POSTGRES_URL'] || process.env['TEST_POSTGRES_URL'] || null;

export interface BenchPostgres {
  /** A new database: empty, or a copy of `template` (which must have no open connection). */
  createDatabase(template?: string): Promise<{ name: string; url: string }>;
  /** Runs one statement in `database` (its own short connection). */
  run(database: string, statement: string): Promise<void>;
  /** The CPU the backends connected to `database` use from now on. */
  trackBackends(database: string): BackendCpu;
  /** Drops every database it made, then disconnects. */
  close(): Promise<void>;
}

export interface BackendCpu {
  /** Looks for backends (new connections) and reads their CPU; call often enough to see short-lived ones. */
  poll(): Promise<void>;
  /** CPU the backends used since tracking started, ms (a backend that ended counts its last reading). */
  cpuMs(): number;
}

export async function openBenchPostgres(adminUrl: string): Promise<BenchPostgres> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const made: string[] = [];
  const urlOf = (name: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  return {
    async createDatabase(template) {
      const name = `latchkey_bench_${crypto.randomBytes(5).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      made.push(name);
      return { name, url: urlOf(name) };
    },
    async run(database, statement) {
      const client = new pg.Client({ connectionString: urlOf(database) });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    },
    trackBackends(database) {
      // Backends alive when tracking starts count from their current reading; later ones from zero.
      const seen = new Map<number, { first: number; last: number }>();
      let started = false;
      return {
        async poll() {
          const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
            database,
          ]);
          for (const { pid } of rows) {
            const now = cpuMsOf(pid);
            if (now === null) continue;
            const s = seen.get(pid);
            if (s) s.last = now;
            else seen.set(pid, { first: started ? 0 : now, last: now });
          }
          for (const [pid, s] of seen) {
            const now = cpuMsOf(pid);
            if (now !== null) s.last = now;
          }
          started = true;
        },
        cpuMs: () => [...seen.values()].reduce((sum, s) => sum + s.last - s.first, 0),
      };
    },
    async close() {
      for (const name of made) {
        for (let attempt = 1; ; attempt++) {
          try {
            await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
            break;
          } catch (err) {
            // An autovacuum worker in the database refuses FORCE for a moment (42501, 55006).
            if (attempt >= 50) throw err;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
      await admin.end();
    },
  };
}
