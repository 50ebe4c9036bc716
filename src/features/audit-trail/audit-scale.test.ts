// The console's audit log at 10,000 events: every page is reached by keyset links, and the queries
// behind the list, the account filter and the type filter read an index in order (no scan of the
// table and sort of it), so page 500 costs what page 1 does. Timing is in `npm run bench`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery, type KyselyPlugin, type RootOperationNode } from 'kysely';
import type { AuditRecord, AuditType } from '../../domain/audit.ts';
import { startWorld, type TestUser, type TestWorld } from '../../../test/support/world.ts';
import { testBackend } from '../../../test/support/database.ts';
import { writeAudit } from '../webhooks/outbox.repo.ts';
import { createAuditRepo } from '../audit/audit.repo.ts';
import { BY_SYSTEM } from '../audit/audit.ts';

const EVENTS = 10_000;
// 200 accounts of 50 events each, and one type as rare: the filters people use pick a needle out of
// the trail (PostgreSQL's planner rightly walks the primary key instead for a value in every row).
const ACCOUNTS = 200;
const RARE_TYPE: AuditType = 'password.reset';
const TYPES: AuditType[] = ['sign_in.succeeded', 'sign_in.failed', 'api_key.created', 'consent.granted'];

describe('audit log at 10,000 events', () => {
  let world: TestWorld;
  let admin: TestUser;
  const accountIds = Array.from({ length: ACCOUNTS }, (_, i) => `usr_scale${String(i).padStart(15, '0')}`);

  before(async () => {
    world = await startWorld();
    admin = await world.user({ tag: 'scale-admin', admin: true });
    const { audit } = world.server.built.services;
    const start = Date.now() - EVENTS * 1000;
    const records: AuditRecord[] = Array.from({ length: EVENTS }, (_, i) => ({
      ...audit.event(
        i % ACCOUNTS === 7 ? RARE_TYPE : TYPES[i % TYPES.length]!,
        {
          account: accountIds[i % ACCOUNTS]!,
          data: { n: i },
        },
        BY_SYSTEM,
      ),
      createdAt: start + i * 1000,
    }));
    // One transaction, through the trail's own writer, a few hundred rows per statement.
    await world.server.db.transaction().execute(async (trx) => {
      for (let i = 0; i < records.length; i += 500) await writeAudit(trx, records.slice(i, i + 500));
    });
  });
  after(() => world.close());

  it('walks /admin/audit from the newest event to the oldest by its "Older events" links', async () => {
    let path: string | null = '/admin/audit';
    let pages = 0;
    let rows = 0;
    let lastN = Number.POSITIVE_INFINITY;
    while (path) {
      const res = await admin.browser.get(path);
      assert.equal(res.status, 200, path);
      const html = await res.text();
      // Each row names its event's seq-ordered `n` nowhere, so count rows and check the cursor moves.
      const count = [...html.matchAll(/<tr>\s*<td data-label="When"/g)].length;
      rows += count;
      const next = /href="(\/admin\/audit\?before=(\d+))"[^>]*>Older events/.exec(html);
      if (next) {
        const before = Number(next[2]);
        assert.ok(before < lastN, 'the cursor only goes back');
        lastN = before;
      }
      path = next ? next[1]! : null;
      pages++;
    }
    // The admin's own sign-in may add events of its own beside the 10,000.
    assert.ok(rows >= EVENTS && rows < EVENTS + 50, `${rows} rows`);
    assert.equal(pages, Math.ceil(rows / 50));
  });

  /** The SQL the repository runs for a page, captured, then explained by the database. */
  async function planOf(run: (repo: ReturnType<typeof createAuditRepo>) => Promise<unknown>): Promise<string> {
    const db = world.server.db;
    let captured: RootOperationNode | undefined;
    const capture: KyselyPlugin = {
      transformQuery: (args) => {
        captured ??= args.node;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    await run(createAuditRepo(db.withPlugin(capture)));
    assert.ok(captured);
    const compiled = db.getExecutor().compileQuery(captured, { queryId: 'plan' });
    const explain = testBackend === 'postgres' ? 'EXPLAIN ' : 'EXPLAIN QUERY PLAN ';
    if (testBackend === 'postgres') await db.executeQuery(CompiledQuery.raw('ANALYZE audit_events'));
    const result = await db.executeQuery(CompiledQuery.raw(explain + compiled.sql, [...compiled.parameters]));
    return result.rows.map((r) => Object.values(r as Record<string, unknown>).join(' ')).join('\n');
  }

  const assertIndexed = (plan: string, index: string) => {
    if (testBackend === 'postgres') {
      // The index in seq order, or (few matching rows) a bitmap of the index whose matches alone are sorted.
      assert.match(plan, new RegExp(`Index Scan Backward using ${index}|Bitmap Index Scan on ${index}`), plan);
      assert.doesNotMatch(plan, /Seq Scan/, plan);
      if (/\bSort\b/.test(plan)) assert.match(plan, /Bitmap Heap Scan/, plan);
    } else {
      const used = index === 'audit_events_pkey' ? 'USING INTEGER PRIMARY KEY' : `USING INDEX ${index}`;
      assert.match(plan, new RegExp(`SEARCH audit_events ${used}`), plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
    }
  };

  it('pages the unfiltered list along the primary key, newest first, without sorting', async () => {
    const plan = await planOf((repo) => repo.list({}, { before: 5_000, limit: 51 }));
    assertIndexed(plan, 'audit_events_pkey');
  });

  it('pages one account’s trail and one type through their indexes', async () => {
    assertIndexed(
      await planOf((repo) => repo.list({ accountId: accountIds[3]! }, { before: 5_000, limit: 51 })),
      'audit_events_account',
    );
    assertIndexed(
      await planOf((repo) => repo.list({ types: [RARE_TYPE] }, { before: 5_000, limit: 51 })),
      'audit_events_type',
    );
  });
});
