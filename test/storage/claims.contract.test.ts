import assert from 'node:assert/strict';
import { beforeEach, it } from 'node:test';
import SQLite from 'better-sqlite3';
import { claimFairly, type ClaimLimits } from '../../src/features/webhooks/claims.repo.ts';
import { sqliteConnectionOf } from '../../src/db/sqlite-connection.ts';
import { createWebhooksRepo } from '../../src/features/webhooks/webhooks.repo.ts';
import { describeStorage, type Storage } from './contract.ts';
import { T0 } from './rows.ts';
import { accountWithEndpoints, clearWebhooks, deliveriesOf, queueEvent } from './webhook-fixtures.ts';

const LOCK_MS = 30_000;

/** Fair claims of due webhook deliveries: limits per endpoint and account, turn order, exclusivity. */
export function claimsRepoContract(s: Storage): void {
  const claim = (now: number, over: Partial<ClaimLimits> = {}) =>
    claimFairly(s.db, { now, lockUntil: now + LOCK_MS, limit: 10, perEndpoint: 2, perAccount: 10, ...over });
  /** Queues `n` events for the account, one millisecond apart from T0. */
  const queue = async (userId: string, n: number) => {
    for (let i = 0; i < n; i++) await queueEvent(s.db, userId, T0 + i);
  };

  beforeEach(() => clearWebhooks(s.db));

  it('claims only due deliveries of active endpoints and holds them, returning each id with its endpoint', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1);
    const failing = await accountWithEndpoints(s.db, 1, { status: 'disabled', disabled_reason: 'failing' });
    await queue(userId, 2);
    await queue(failing.userId, 1);
    await queueEvent(s.db, userId, T0 + 60_000); // not yet due
    const claimed = await claim(T0 + 10);
    const due = (await deliveriesOf(s.db, [endpoints[0]!.id])).filter((d) => d.next_attempt_at <= T0 + 10);
    assert.deepEqual(
      claimed.map((c) => c.endpoint_id),
      [endpoints[0]!.id, endpoints[0]!.id],
    );
    assert.deepEqual(claimed.map((c) => c.id).sort(), due.map((d) => d.id).sort());
    const held = await deliveriesOf(s.db, [endpoints[0]!.id]);
    assert.ok(held.filter((d) => d.locked_until === T0 + 10 + LOCK_MS).length === 2);
  });

  it('keeps each endpoint and each account within its share of what is in flight, whoever claimed it', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 3);
    await queue(userId, 4); // 4 per endpoint, 12 due
    const limits = { perEndpoint: 2, perAccount: 5 };
    const repo = createWebhooksRepo(s.db);
    const first = await repo.claimDue({ now: T0 + 10, lockUntil: T0 + 10 + LOCK_MS, limit: 10, ...limits });
    assert.equal(first.length, 5, 'the account share');
    for (const e of endpoints) assert.ok(first.filter((c) => c.endpoint_id === e.id).length <= 2);
    assert.deepEqual(await claim(T0 + 11, limits), [], 'the claims in flight count');
    // One settles: one slot frees for the account.
    await repo.recordSuccess(first[0]!, T0 + 12, 200, 1);
    assert.equal((await claim(T0 + 13, limits)).length, 1);
    // Claims that ran out no longer count: the account's whole share is claimable again.
    assert.equal((await claim(T0 + 13 + LOCK_MS, limits)).length, 5);
  });

  it('serves the account with the least in flight first, then the one served least recently', async () => {
    const busy = await accountWithEndpoints(s.db, 1);
    const quiet = await accountWithEndpoints(s.db, 1);
    await queue(busy.userId, 5);
    await queue(quiet.userId, 1);
    const claimed = await claim(T0 + 10, { limit: 2, perEndpoint: 5 });
    assert.deepEqual(
      claimed.map((c) => c.endpoint_id).sort(),
      [busy.endpoints[0]!.id, quiet.endpoints[0]!.id].sort(),
      "a long backlog does not keep another account's delivery waiting",
    );
    // Two accounts with equal load: the one served least recently goes first.
    await clearWebhooks(s.db);
    const a = await accountWithEndpoints(s.db, 1);
    const b = await accountWithEndpoints(s.db, 1);
    await queue(a.userId, 3);
    await queue(b.userId, 3);
    const turns: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [c] = await claim(T0 + 10 + i, { limit: 1, perEndpoint: 5, lockUntil: T0 + 11 + i });
      turns.push(c!.endpoint_id === a.endpoints[0]!.id ? 'a' : 'b');
    }
    assert.ok(['abab', 'baba'].includes(turns.join('')), `accounts take turns: ${turns.join('')}`);
  });

  it('never hands one delivery to two of many concurrent claimers', async () => {
    const accounts = [];
    for (let i = 0; i < 3; i++) accounts.push(await accountWithEndpoints(s.db, 2));
    for (const a of accounts) await queue(a.userId, 3); // 18 due, 6 endpoints
    const rounds = await Promise.all(Array.from({ length: 5 }, () => claim(T0 + 10, { limit: 4, perEndpoint: 2 })));
    const ids = rounds.flat().map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'no delivery claimed twice');
    assert.equal(ids.length, 12, 'two in flight for each of the six endpoints, no more');
  });

  // Every instance polls the claim each second. On SQLite a write waits for the database's lock
  // with the event loop held, so a poll that finds nothing due must not ask for that lock.
  if (s.backend === 'sqlite') {
    it('claims nothing without the write lock while another process holds it, when nothing is due', async () => {
      const { userId } = await accountWithEndpoints(s.db, 1);
      await queueEvent(s.db, userId, T0 + 60_000); // not yet due
      const connection = sqliteConnectionOf(s.db)!;
      const other = new SQLite(connection.name);
      other.exec('BEGIN IMMEDIATE');
      // No waiting for the lock here: a claim that asks for it fails at once with SQLITE_BUSY.
      connection.pragma('busy_timeout = 0');
      try {
        assert.deepEqual(await claim(T0 + 10), []);
      } finally {
        connection.pragma('busy_timeout = 5000');
        other.exec('ROLLBACK');
        other.close();
      }
      await queue(userId, 1);
      assert.equal((await claim(T0 + 10)).length, 1, 'once the lock is free, what is due is claimed');
    });
  }
}

describeStorage('webhook claims', claimsRepoContract);
