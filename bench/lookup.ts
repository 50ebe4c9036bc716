/**
 * The API-key miss on its own, on a database file as the server opens it, for keys drawn from
 * `--keys` (one full key per line, as bench/bulk-keys.ts writes them).
 *
 * - `--what read` (default): `findForAuth`, the repository query the service runs on a cache miss,
 *   for keys in random order. Prints {lookups, meanUs, p50Us, p99Us, rows} (wall time per lookup).
 * - `--what service`: what the service does for a request on a miss (authenticate, then the
 *   activity entry queued and written in its batches), for keys in turn with 50 at a time, and the
 *   same for one key (every request a hit) as the baseline. Prints {requests, missCpuUs,
 *   hitCpuUs}: CPU µs per request of this process, the database's writes included.
 *
 *   node --import tsx bench/lookup.ts --db FILE --keys FILE [--n 20000] [--what read|service]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openDatabase, type DB } from '../src/db/client.ts';
import { createApiKeysRepo } from '../src/features/api-keys/api-keys.repo.ts';
import { createApiKeysService } from '../src/features/api-keys/api-keys.service.ts';
import { parseApiKey } from '../src/features/api-keys/key-format.ts';
import { createCredentialEvents } from '../src/shared/credential-events.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    keys: { type: 'string' },
    n: { type: 'string', default: '20000' },
    what: { type: 'string', default: 'read' },
  },
});
if (!values.db || !values.keys) throw new Error('lookup needs --db and --keys');
const keys = fs.readFileSync(values.keys, 'utf8').split('\n').filter(Boolean);
const n = Number(values.n);
const db = openDatabase({ database: { kind: 'sqlite', file: values.db } });
const us = (ms: number) => Math.round(ms * 10_000) / 10;

async function read(db: DB): Promise<Record<string, number>> {
  const repo = createApiKeysRepo(db);
  const ids = keys.map((k) => parseApiKey(k)!);
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
  times.sort();
  const mean = times.reduce((a, b) => a + b, 0) / n;
  const at = (p: number) => times[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]!;
  return { lookups: n, meanUs: us(mean), p50Us: us(at(50)), p99Us: us(at(99)), rows };
}

async function service(db: DB): Promise<Record<string, number>> {
  const serviceOn = () =>
    createApiKeysService({
      repo: createApiKeysRepo(db),
      now: Date.now,
      rotationGraceMs: 0,
      activityRetentionMs: 86_400_000,
      cacheTtlMs: 10_000,
      events: createCredentialEvents(),
      logger: { warn: (obj: unknown, msg?: string) => process.stderr.write(`${msg} ${JSON.stringify(obj)}\n`) },
      activityBacklog: 100_000,
      keyPolicy: { hourly: 1_000_000_000, burst: 1_000_000 },
      audit: undefined as never, // only changes to keys are audited; none is made here
    });
  let turn = 0;
  const inTurn = () => keys[turn++ % keys.length]!;
  const one = () => keys[0]!;
  /** CPU µs per request for `count` requests, 50 at a time, by a fresh service; its activity written. */
  async function run(keyOf: () => string, count: number): Promise<number> {
    const apiKeys = serviceOn();
    const before = process.cpuUsage();
    let next = 0;
    const worker = async () => {
      while (next++ < count) {
        // A request arrives from a socket: without this turn of the event loop, back-to-back reads
        // would keep Kysely's one SQLite connection from the batch's transaction.
        await new Promise((resolve) => setImmediate(resolve));
        const credential = await apiKeys.authenticate(keyOf(), '127.0.0.1');
        apiKeys.recordUse({
          key_id: credential.id!,
          at: Date.now(),
          ip: '127.0.0.1',
          method: 'GET',
          path: '/v2/auth/test',
          status: 200,
          request_id: 'req_0123456789abcdefghij',
          client_version: null,
        });
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    await apiKeys.stop(); // writes what waits
    const used = process.cpuUsage(before);
    return Math.round(((used.user + used.system) / count) * 10) / 10;
  }
  await run(inTurn, Math.min(n, 20_000)); // warm-up: JIT and page cache
  const missCpuUs = await run(inTurn, n);
  const hitCpuUs = await run(one, n);
  return { requests: n, missCpuUs, hitCpuUs };
}

const result = values.what === 'service' ? await service(db) : await read(db);
await db.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
