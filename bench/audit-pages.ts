/**
 * The audit log's pages on their own: page 1 and page 500 (the last) of 10,000 events, 20 a page,
 * read the way the console reads them (the repository's keyset query, through Kysely on
 * better-sqlite3); and one account's first and last page (1,000 of the events, page 50). Keyset
 * pagination means the last page costs what the first does. Prints {events, page1Us, page500Us,
 * account1Us, account50Us} (p50 of `--n` reads each).
 *
 *   node --import tsx bench/audit-pages.ts --db FILE [--n 2000]
 */
import { parseArgs } from 'node:util';
import { openDatabase, migrateToLatest } from '../src/db/client.ts';
import type { AuditRecord } from '../src/domain/audit.ts';
import { createAuditRepo, type AuditFilter } from '../src/features/audit/audit.repo.ts';
import { BY_SYSTEM, createAudit } from '../src/features/audit/audit.ts';
import { writeAudit } from '../src/features/webhooks/outbox.repo.ts';

const { values } = parseArgs({ options: { db: { type: 'string' }, n: { type: 'string', default: '2000' } } });
if (!values.db) throw new Error('audit-pages needs --db');
const EVENTS = 10_000;
const PAGE = 20;
const ACCOUNTS = 10;
const n = Number(values.n);

const db = openDatabase({ database: { kind: 'sqlite', file: values.db } });
await migrateToLatest(db);
const audit = createAudit({ now: Date.now });
const records: AuditRecord[] = Array.from({ length: EVENTS }, (_, i) =>
  audit.event(
    i % 2 ? 'sign_in.succeeded' : 'api_key.created',
    { account: `usr_bench${i % ACCOUNTS}`, data: { i } },
    BY_SYSTEM,
  ),
);
await db.transaction().execute(async (trx) => {
  for (let i = 0; i < records.length; i += 500) await writeAudit(trx, records.slice(i, i + 500));
});
const repo = createAuditRepo(db);

/** The cursor of page `page` (1-based): the seq of the last entry of the page before it. */
async function cursorOf(filter: AuditFilter, page: number): Promise<number | undefined> {
  if (page === 1) return undefined;
  const rows = await repo.list(filter, { limit: (page - 1) * PAGE });
  return rows[rows.length - 1]!.seq;
}

async function p50Us(filter: AuditFilter, page: number): Promise<number> {
  const before = await cursorOf(filter, page);
  const at = before === undefined ? { limit: PAGE + 1 } : { before, limit: PAGE + 1 };
  for (let i = 0; i < 200; i++) await repo.list(filter, at); // warm-up: JIT and page cache
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const rows = await repo.list(filter, at);
    times[i] = performance.now() - t;
    if (rows.length === 0) throw new Error(`page ${page} is empty`);
  }
  times.sort();
  return Math.round(times[Math.floor(n / 2)]! * 1000);
}

const everyone: AuditFilter = {};
const oneAccount: AuditFilter = { accountId: 'usr_bench3' };
const out = {
  events: records.length,
  page1Us: await p50Us(everyone, 1),
  page500Us: await p50Us(everyone, 500),
  account1Us: await p50Us(oneAccount, 1),
  account50Us: await p50Us(oneAccount, 50),
};
await db.destroy();
process.stdout.write(`${JSON.stringify(out)}\n`);
