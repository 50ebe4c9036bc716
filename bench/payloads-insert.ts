/**
 * The token table's write on its own: what the token endpoint pays per issued token in
 * `oidc_payloads` (the repository's upsert, through Kysely, one statement per transaction as
 * oidc-provider saves a token), on a freshly migrated SQLite file (or PostgreSQL database) already
 * holding `--rows` tokens of the usual mix. Prints {inserts, cpuUsPerInsert, p50Us, p99Us, rows}:
 * on SQLite the statement runs on this thread, so CPU per insert is what the server would spend.
 *
 *   node --import tsx bench/payloads-insert.ts [--rows 100000] [--n 5000] [--model ClientCredentials]
 *     [--concurrent 50]
 *   node --import tsx bench/payloads-insert.ts --postgres postgres://user:pass@127.0.0.1:5432/postgres
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrateToLatest, openDatabase, type DB } from '../src/db/client.ts';
import { createPayloadsRepo, type PayloadWrite } from '../src/oidc/payloads.repo.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    n: { type: 'string', default: '5000' },
    model: { type: 'string', default: 'ClientCredentials' },
    postgres: { type: 'string' },
    /** Saves in flight at once, as from this many concurrent token requests (committed together). */
    concurrent: { type: 'string', default: '1' },
  },
});
const hash = () => crypto.randomBytes(32).toString('base64url');
const HOUR = 3_600_000;
const clients = Array.from({ length: 20 }, (_, i) => `app_${i}`);
const payloadText = JSON.stringify({
  kind: 'ClientCredentials',
  iat: 1_767_225_600,
  exp: 1_767_229_200,
  clientId: 'app_0',
  aud: 'https://api.example.com',
  scope: 'read:users write:users',
  extra: {},
  resourceServer: { audience: 'https://api.example.com', scope: 'read:users write:users', accessTokenTTL: 3600 },
});

/** A row of one model as the adapter writes it (only the columns that model fills). */
function rowOf(type: string, now: number): PayloadWrite {
  const clientId = clients[Math.floor(Math.random() * clients.length)]!;
  const granted = type === 'RefreshToken' || type === 'AccessToken' || type === 'Grant';
  return {
    type,
    idHash: hash(),
    payload: payloadText,
    grantIdHash: granted ? hash() : null,
    clientId: type === 'Session' ? null : clientId,
    uidHash: type === 'Session' ? hash() : null,
    userCodeHash: null,
    expiresAt: now + HOUR,
    accountId: type === 'Session' ? 'usr_1' : null,
  };
}

async function openTarget(): Promise<{ db: DB; done(): Promise<void> }> {
  if (!values.postgres) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-payloads-'));
    const db = openDatabase({ database: { kind: 'sqlite', file: path.join(dir, 'bench.sqlite') } });
    return { db, done: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `latchkey_bench_${crypto.randomBytes(4).toString('hex')}`;
  const admin = async (q: string) => {
    const client = new pg.Client({ connectionString: values.postgres });
    await client.connect();
    await client.query(q).finally(() => client.end());
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(values.postgres);
  url.pathname = `/${name}`;
  const db = openDatabase({ database: { kind: 'postgres', url: url.toString() } });
  return { db, done: () => admin(`DROP DATABASE ${name} WITH (FORCE)`) };
}

const { db, done } = await openTarget();
await migrateToLatest(db);
const now = Date.now();
// The mix a busy server holds: mostly machine tokens, then people's tokens, grants and sessions.
const mix = ['ClientCredentials', 'ClientCredentials', 'ClientCredentials', 'AccessToken', 'RefreshToken', 'Grant'];
const rows = Number(values.rows);
for (let done = 0; done < rows; done += 1000) {
  await db.transaction().execute(async (trx) => {
    const repo = createPayloadsRepo(trx);
    for (let i = 0; i < 1000; i++) await repo.upsert(rowOf(mix[i % mix.length]!, now));
  });
}

const repo = createPayloadsRepo(db);
const n = Number(values.n);
for (let i = 0; i < 500; i++) await repo.upsert(rowOf(values.model, now)); // warm-up: JIT, page cache
const times = new Float64Array(n);
const concurrent = Number(values.concurrent);
const cpu = process.cpuUsage();
for (let i = 0; i < n; i += concurrent) {
  // Each save's time is from the start of its wave to its own settling.
  const t = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrent, n - i) }, (_, k) =>
      repo.upsert(rowOf(values.model, now)).then(() => {
        times[i + k] = performance.now() - t;
      }),
    ),
  );
}
const used = process.cpuUsage(cpu);
await db.destroy();
await done();
times.sort();
const at = (p: number) => times[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]!;
const us = (ms: number) => Math.round(ms * 10_000) / 10;
process.stdout.write(
  `${JSON.stringify({
    backend: values.postgres ? 'postgres' : 'sqlite',
    model: values.model,
    inserts: n,
    concurrent,
    cpuUsPerInsert: Math.round(((used.user + used.system) / n) * 10) / 10,
    p50Us: us(at(50)),
    p99Us: us(at(99)),
    rows,
  })}\n`,
);
