/**
 * Fills `api_keys` directly with better-sqlite3, in 1,000-row transactions: `--real N` keys minted
 * as Latchkey mints them (their full keys are written to `--out`, one per line, so the load can
 * present them) and `--filler M` rows with random ids and hashes (never presented). All belong to
 * `--user`, carry read:users and their own high rate limit. Prints {inserted, seconds}.
 *
 *   node --import tsx bench/bulk-keys.ts --db FILE --user ID --real N --filler M [--out FILE]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import SQLite from 'better-sqlite3';
import { mintApiKey } from '../src/features/api-keys/key-format.ts';
import { sha256 } from '../src/shared/secrets.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    user: { type: 'string' },
    real: { type: 'string', default: '0' },
    filler: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});
if (!values.db || !values.user) throw new Error('bulk-keys needs --db and --user');
const real = Number(values.real);
const filler = Number(values.filler);

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** A random 12-character base62 id (filler only: a slight modulo bias does not matter here). */
function fillerId(bytes: Buffer, at: number): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += BASE62[bytes[at + i]! % 62];
  return s;
}

const started = process.hrtime.bigint();
const db = new SQLite(values.db);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = OFF'); // a benchmark fixture: no fsync at checkpoints
db.pragma('wal_autocheckpoint = 20000');
db.pragma('busy_timeout = 10000');
db.pragma('cache_size = -262144'); // 256 MiB for this connection: the primary-key index stays in memory
const insert = db.prepare(
  `INSERT OR IGNORE INTO api_keys (id, user_id, name, secret_hash, scopes, allowed_ips, expires_at, created_at,
     revoked_at, last_used_at, last_used_ip, replaced_by, grace_until, rate_limit_hourly, rate_limit_burst)
   VALUES (?, ?, ?, ?, '["read:users"]', NULL, NULL, ?, NULL, NULL, NULL, NULL, NULL, 100000000, 1000000)`,
);
const user = values.user;
const now = Date.now();
const realKeys: string[] = [];

const batch = db.transaction((rows: [string, string, string][]) => {
  for (const [id, name, hash] of rows) insert.run(id, user, name, hash, now);
});

const BATCH = 1000;
for (let done = 0; done < real; ) {
  const rows: [string, string, string][] = [];
  for (let i = 0; i < BATCH && done < real; i++, done++) {
    const { id, key } = mintApiKey();
    realKeys.push(key);
    rows.push([id, 'bench key', sha256(key)]);
  }
  batch(rows);
}
// Filler ids are generated up front and inserted in sorted order: the primary-key index then
// grows mostly at its right edge instead of splitting random pages (about half the CPU).
const fillerIds: string[] = [];
{
  const idBytes = crypto.randomBytes(12 * filler);
  for (let i = 0; i < filler; i++) fillerIds.push(fillerId(idBytes, i * 12));
  fillerIds.sort();
}
for (let done = 0; done < filler; ) {
  const n = Math.min(BATCH, filler - done);
  const hashBytes = crypto.randomBytes(32 * n);
  const rows: [string, string, string][] = [];
  for (let i = 0; i < n; i++)
    rows.push([fillerIds[done + i]!, 'filler', hashBytes.subarray(i * 32, i * 32 + 32).toString('hex')]);
  batch(rows);
  done += n;
}
db.pragma('wal_checkpoint(TRUNCATE)');
db.close();
if (values.out) fs.writeFileSync(values.out, realKeys.join('\n') + (realKeys.length ? '\n' : ''));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(`${JSON.stringify({ inserted: real + filler, seconds })}\n`);
