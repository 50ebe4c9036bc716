/**
 * A primary-key read through Kysely on PostgreSQL, with and without named prepared statements
 * (src/db/prepared-statements.ts): CPU per query of this process and of its backend, from /proc.
 *
 *   TEST_POSTGRES_URL=postgres://... node --import tsx bench/pg-prepared.ts [n]
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { createPostgresPool } from '../src/db/client.ts';
import { cpuMsOf } from './lib/proc.ts';
import { benchPostgresUrl, openBenchPostgres } from './lib/postgres.ts';

interface Tables {
  t: { id: string; a: string; b: number; c: string };
}

const n = Number(process.argv[2] ?? 5000);
const url = benchPostgresUrl();
if (!url) throw new Error('set BENCH_POSTGRES_URL or TEST_POSTGRES_URL');
const postgres = await openBenchPostgres(url);
try {
  const { url: dbUrl } = await postgres.createDatabase();
  const pools = { unnamed: new pg.Pool({ connectionString: dbUrl, max: 1 }), named: createPostgresPool(dbUrl, 1) };
  pools.unnamed.on('error', () => {}); // the database is dropped at the end
  const setup = new Kysely<Tables>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: dbUrl }) }),
  });
  await sql`CREATE TABLE t (id text PRIMARY KEY, a text, b bigint, c text)`.execute(setup);
  await sql`INSERT INTO t SELECT 'k' || g, 'a' || g, g, 'c' FROM generate_series(1, 10000) g`.execute(setup);
  await setup.destroy();
  const result: Record<string, { clientUs: number; backendUs: number }> = {};
  for (const round of [1, 2])
    for (const [kind, pool] of Object.entries(pools)) {
      const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
      const read = (i: number) =>
        db
          .selectFrom('t')
          .select(['id', 'a', 'b', 'c'])
          .where('id', '=', `k${(i % 10000) + 1}`)
          .executeTakeFirst();
      await read(0);
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const backend = rows[0]!.pid;
      for (let i = 0; i < 500; i++) await read(i);
      const c0 = process.cpuUsage();
      const b0 = cpuMsOf(backend)!;
      for (let i = 0; i < n; i++) await read(i);
      const c1 = process.cpuUsage(c0);
      const b1 = cpuMsOf(backend)!;
      if (round === 2)
        result[kind] = {
          clientUs: Math.round((c1.user + c1.system) / n),
          backendUs: Math.round(((b1 - b0) * 1000) / n),
        };
    }
  await Promise.all(Object.values(pools).map((p) => p.end()));
  process.stdout.write(`${JSON.stringify({ queries: n, ...result })}\n`);
} finally {
  await postgres.close();
}
