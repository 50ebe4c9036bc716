import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createApiKeysRepo } from '../../src/features/api-keys/api-keys.repo.ts';
import { MUST_WAIT } from '../../src/db/prepared.ts';
import { ValidationError } from '../../src/domain/errors.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import {
  AWKWARD,
  LATE,
  assertForeignKeyViolation,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { activityRow, apiKeyRow, insertUser, T0 } from './rows.ts';

/** API keys: authentication lookup, listing, revoke once, rotation, batched usage and its log. */
export function apiKeysRepoContract(s: Storage): void {
  const repo = () => createApiKeysRepo(s.db);
  const eventsNamed = async (ids: string[]) =>
    (await s.db.selectFrom('webhook_events').select('id').where('id', 'in', ids).execute()).length;

  it('returns every column as written, the latest representable time included', async () => {
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id, {
      name: AWKWARD,
      scopes: JSON.stringify(['read:users', 'write:keys']),
      allowed_ips: JSON.stringify(['203.0.113.0/24', '2001:db8::/32']),
      expires_at: LATE,
      revoked_at: LATE + 1,
      last_used_at: LATE + 2,
      last_used_ip: '2001:db8::1',
      replaced_by: 'key_next',
      grace_until: Number.MAX_SAFE_INTEGER,
      rate_limit_hourly: 100_000_000,
      rate_limit_burst: 1_000_000,
    });
    await repo().insert(row, []);
    assert.deepEqual(await repo().findById(row.id), row);
    const { name: _n, created_at: _c, last_used_at: _l, last_used_ip: _i, replaced_by: _r, ...auth } = row;
    assert.deepEqual(await repo().findForAuth(row.id), auth);
  });

  it('reads a key for authentication at once on SQLite (the same row), and waits on PostgreSQL', async () => {
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id, { allowed_ips: JSON.stringify(['203.0.113.0/24']), expires_at: LATE });
    await repo().insert(row, []);
    if (s.backend === 'postgres') {
      assert.equal(repo().findForAuthNow(row.id), MUST_WAIT);
      return;
    }
    assert.deepEqual(repo().findForAuthNow(row.id), await repo().findForAuth(row.id));
    assert.equal(repo().findForAuthNow('key_nobody'), undefined);
    assert.throws(
      () => repo().findForAuthNow('key_\u0000'),
      (err: unknown) => err instanceof ValidationError,
    );
  });

  it('never reads at once inside a transaction under way: its writes are not committed yet', async () => {
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id);
    let inside: unknown = 'not read';
    // SQLite's one connection is inside this transaction: a read now would see the uncommitted row.
    await s.db.transaction().execute(async (trx) => {
      await trx.insertInto('api_keys').values(row).execute();
      inside = repo().findForAuthNow(row.id);
    });
    assert.equal(inside, MUST_WAIT);
    assert.equal((await repo().findForAuth(row.id))?.id, row.id);
  });

  it('answers undefined for an unknown key, and refuses a duplicate id or an unknown owner', async () => {
    assert.equal(await repo().findById('key_nobody'), undefined);
    assert.equal(await repo().findForAuth('key_nobody'), undefined);
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id);
    const event = buildEvent('api_key.created', user.id, { id: row.id }, T0);
    await repo().insert(row, [event]);
    assert.equal(await eventsNamed([event.id]), 1, 'the event is written with the key');
    const again = buildEvent('api_key.created', user.id, { id: row.id }, T0);
    await assertUniqueViolation(repo().insert(row, [again]));
    assert.equal(await eventsNamed([again.id]), 0, 'nor the event of a key that was refused');
    await assertForeignKeyViolation(repo().insert(apiKeyRow('usr_nobody'), []));
  });

  it("lists an account's keys newest first, ties by id", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const old = apiKeyRow(user.id, { created_at: T0 });
    const newer = apiKeyRow(user.id, { created_at: LATE });
    const tieB = apiKeyRow(user.id, { id: `${freshId('key')}_b`, created_at: T0 + 5 });
    const tieA = apiKeyRow(user.id, { id: `${tieB.id.slice(0, -2)}_a`, created_at: T0 + 5 });
    for (const row of [old, tieB, newer, tieA, apiKeyRow(other.id)]) await repo().insert(row, []);
    assert.deepEqual(
      (await repo().listOwned(user.id)).map((r) => r.id),
      [newer.id, tieA.id, tieB.id, old.id],
    );
    assert.deepEqual(await repo().listOwned('usr_nobody'), []);
  });

  it('revokes once: a second revoke, even a concurrent one, keeps the first time and emits nothing', async () => {
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id);
    await repo().insert(row, []);
    const events = Array.from({ length: 5 }, () => buildEvent('api_key.revoked', user.id, { id: row.id }, T0));
    await Promise.all(events.map((e, i) => repo().revoke(row.id, LATE + i, [e])));
    const revokedAt = (await repo().findById(row.id))!.revoked_at;
    assert.ok(revokedAt !== null && revokedAt >= LATE && revokedAt < LATE + 5);
    assert.equal(await eventsNamed(events.map((e) => e.id)), 1, 'one revocation, one event');
    await repo().revoke(row.id, LATE + 100, []);
    assert.equal((await repo().findById(row.id))!.revoked_at, revokedAt);
    await repo().revoke('key_nobody', LATE, []); // nothing to revoke: no error
  });

  it('rotates: the replacement and the old key marked, with its event, in one step', async () => {
    const user = await insertUser(s.db);
    const old = apiKeyRow(user.id);
    await repo().insert(old, []);
    const replacement = apiKeyRow(user.id, { created_at: LATE });
    const event = buildEvent('api_key.rotated', user.id, { id: old.id }, LATE);
    await repo().rotate(old.id, replacement, LATE + 60_000, [event]);
    assert.deepEqual(await repo().findById(replacement.id), replacement);
    const marked = await repo().findById(old.id);
    assert.equal(marked?.replaced_by, replacement.id);
    assert.equal(marked?.grace_until, LATE + 60_000);
    assert.equal(await eventsNamed([event.id]), 1);
    // A replacement whose id is taken fails whole: the old key stays unmarked.
    const again = apiKeyRow(user.id);
    await repo().insert(again, []);
    await assertUniqueViolation(repo().rotate(again.id, replacement, LATE, []));
    assert.equal((await repo().findById(again.id))?.replaced_by, null);
  });

  it('records usage in batches: entries of unknown keys left out, last use never moving backwards', async () => {
    const user = await insertUser(s.db);
    const key = apiKeyRow(user.id);
    await repo().insert(key, []);
    assert.equal(await repo().recordUsage([]), 0);
    const written = await repo().recordUsage([
      activityRow(key.id, LATE + 10, { ip: '198.51.100.1', path: '/v2/ünïcode/🔑', client_version: 'sdk/1.0' }),
      activityRow(key.id, LATE + 30, { ip: '198.51.100.3' }),
      activityRow(key.id, LATE + 20, { ip: '198.51.100.2' }),
      activityRow('key_deleted_meanwhile', LATE),
    ]);
    assert.equal(written, 3);
    let stamped = await repo().findById(key.id);
    assert.equal(stamped?.last_used_at, LATE + 30);
    assert.equal(stamped?.last_used_ip, '198.51.100.3');
    // An older batch committing later does not move last use back.
    await repo().recordUsage([activityRow(key.id, LATE + 5, { ip: '198.51.100.9' })]);
    stamped = await repo().findById(key.id);
    assert.equal(stamped?.last_used_at, LATE + 30);
    assert.equal(stamped?.last_used_ip, '198.51.100.3');
    const log = await repo().activity(key.id, 10);
    assert.deepEqual(
      log.map((a) => a.at),
      [LATE + 30, LATE + 20, LATE + 10, LATE + 5],
    );
    assert.equal(log[2]?.path, '/v2/ünïcode/🔑');
    assert.equal(log[2]?.client_version, 'sdk/1.0');
  });

  it('takes concurrent batches naming the same keys (as several instances write them) without losing one', async () => {
    const user = await insertUser(s.db);
    const keys = [apiKeyRow(user.id), apiKeyRow(user.id), apiKeyRow(user.id)];
    for (const k of keys) await repo().insert(k, []);
    // Each batch names the keys in a different order: a lock taken per key in arrival order could deadlock.
    const batches = Array.from({ length: 6 }, (_, b) =>
      [...keys, ...keys].slice(b % 3, (b % 3) + 3).map((k, i) => activityRow(k.id, LATE + b * 10 + i)),
    );
    const counts = await Promise.all(batches.map((batch) => repo().recordUsage(batch)));
    assert.deepEqual(counts, [3, 3, 3, 3, 3, 3]);
    let total = 0;
    for (const k of keys) total += (await repo().activity(k.id, 100)).length;
    assert.equal(total, 18);
    const latest = Math.max(...batches.flat().map((a) => a.at));
    const stamps = await Promise.all(keys.map(async (k) => (await repo().findById(k.id))!.last_used_at));
    assert.ok(stamps.includes(latest));
  });

  it('writes a batch larger than one insert statement takes', async () => {
    const user = await insertUser(s.db);
    const key = apiKeyRow(user.id);
    await repo().insert(key, []);
    const entries = Array.from({ length: 1_234 }, (_, i) => activityRow(key.id, T0 + i));
    assert.equal(await repo().recordUsage(entries), 1_234);
    assert.equal((await repo().activity(key.id, 5_000)).length, 1_234);
  });

  it('writes a batch on its own while another transaction is open, not as part of it', async () => {
    const user = await insertUser(s.db);
    const key = apiKeyRow(user.id);
    await repo().insert(key, []);
    let batch: Promise<number> | undefined;
    const undone = s.db.transaction().execute(async (trx) => {
      await trx.updateTable('api_keys').set({ name: 'renamed in a transaction' }).where('id', '=', key.id).execute();
      batch = repo().recordUsage([activityRow(key.id, LATE + 40, { ip: '198.51.100.40' })]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      throw new Error('rolled back');
    });
    await assert.rejects(undone, /rolled back/);
    assert.equal(await batch, 1);
    const after = await repo().findById(key.id);
    assert.equal(after?.name, key.name, 'the other transaction was rolled back');
    assert.equal(after?.last_used_at, LATE + 40, "the batch's stamp stayed");
    assert.deepEqual(
      (await repo().activity(key.id, 10)).map((a) => a.ip),
      ['198.51.100.40'],
    );
  });

  it('pages the activity log newest first, the next page strictly older than its cursor; prunes by age', async () => {
    const user = await insertUser(s.db);
    const key = apiKeyRow(user.id);
    await repo().insert(key, []);
    const tag = freshId('act');
    const entries = [
      activityRow(key.id, T0 + 1, { id: `${tag}1` }),
      activityRow(key.id, T0 + 2, { id: `${tag}2a` }),
      activityRow(key.id, T0 + 2, { id: `${tag}2b` }),
      activityRow(key.id, T0 + 3, { id: `${tag}3` }),
    ];
    await repo().recordUsage(entries);
    const first = await repo().activity(key.id, 2);
    assert.deepEqual(
      first.map((a) => a.id),
      [`${tag}3`, `${tag}2b`],
    );
    const next = await repo().activity(key.id, 2, first.at(-1)!.at);
    assert.deepEqual(
      next.map((a) => a.id),
      [`${tag}1`],
    );
    await repo().pruneActivity(T0 + 2);
    assert.deepEqual(
      (await repo().activity(key.id, 10)).map((a) => a.at),
      [T0 + 3, T0 + 2, T0 + 2],
    );
  });

  it('refuses NUL in a key it writes and in an id it looks up', async () => {
    const user = await insertUser(s.db);
    const row = apiKeyRow(user.id, { name: 'bad\u0000name' });
    await assertRefusesNul(repo().insert(row, []));
    assert.equal(await repo().findById(row.id), undefined);
    await assertRefusesNul(repo().findForAuth('key_\u0000'));
  });
}

describeStorage('API keys repository', apiKeysRepoContract);
