/**
 * The database half of API-key verification on its own: `findForAuth` (the repository query the
 * service runs on a cache miss, through Kysely on better-sqlite3, as the server opens the file)
 * for keys drawn from `--keys` in random order. Prints {lookups, meanUs, p50Us, p99Us, rows}.
 *
 *   node --import tsx bench/lookup.ts --db FILE --keys FILE [--n 20000]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/client.ts';
import { createApiKeysRepo } from '../src/features/api-keys/api-keys.repo.ts';
import { parseApiKey } from '../src/features/api-keys/key-format.ts';

const { values } = parseArgs({
  options: { db: { type: 'string' }, keys: { type: 'string' }, n: { type: 'string', default: '20000' } },
});
if (!values.db || !values.keys) throw new Error('lookup needs --db and --keys');
const ids = fs
  .readFileSync(values.keys, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((k) => parseApiKey(k)!);
const n = Number(values.n);
const db = openDatabase({ database: { kind: 'sqlite', file: values.db } });
const repo = createApiKeysRepo(db);
const rows = Number((await sql<{ n: number }>`select count(*) as n from api_keys`.execute(db)).rows[0]!.n);

const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
for (let i = 0; i < 2000; i++) await repo.findForAuth(pick()); // warm-up: JIT and page cache
const times = new Float64Array(n);
for (let i = 0; i < n; i++) {
  const id = pick();
  const t = performance.now();
  const row = await repo.findForAuth(id);
  times[i] = performance.now() - t;
  if (!row) throw new Error(`key ${id} not found`);
}
await db.destroy();
times.sort();
const mean = times.reduce((a, b) => a + b, 0) / n;
const at = (p: number) => times[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]!;
const us = (ms: number) => Math.round(ms * 10_000) / 10;
process.stdout.write(
  `${JSON.stringify({ lookups: n, meanUs: us(mean), p50Us: us(at(50)), p99Us: us(at(99)), rows })}\n`,
);
