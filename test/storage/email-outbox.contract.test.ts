import assert from 'node:assert/strict';
import { beforeEach, it } from 'node:test';
import { createEmailOutboxRepo } from '../../src/features/email/outbox.repo.ts';
import { assertRefusesNul, AWKWARD, describeStorage, freshId, LATE, LONG, type Storage } from './contract.ts';

const LOCK = 60_000;

/** The email outbox: queued messages, claimed by one sender at a time, settled once. */
export function emailOutboxRepoContract(s: Storage): void {
  const repo = () => createEmailOutboxRepo(s.db);
  const queue = async (now: number, over: { recipient?: string; message?: string } = {}) => {
    const id = freshId('eml');
    await repo().enqueue({
      id,
      recipient: over.recipient ?? `${id}@example.test`,
      template: 'test',
      message_enc: over.message ?? `sealed-${id}`,
      now,
    });
    return id;
  };

  beforeEach(async () => {
    await s.db.deleteFrom('email_outbox').execute();
  });

  it('keeps a queued message byte for byte, pending and due at once', async () => {
    const id = await queue(LATE, { recipient: `zoë+${AWKWARD.length}@exämple.test`, message: LONG });
    assert.deepEqual(await repo().find(id), {
      id,
      recipient: `zoë+${AWKWARD.length}@exämple.test`,
      template: 'test',
      message_enc: LONG,
      status: 'pending',
      attempts: 0,
      next_attempt_at: LATE,
      claimed_until: null,
      sent_at: null,
      last_error: null,
      created_at: LATE,
    });
    assert.equal(await repo().pendingCount(), 1);
  });

  it('refuses text with NUL', async () => {
    await assertRefusesNul(queue(LATE, { message: 'a\u0000b' }));
  });

  it('claims due messages oldest first, holds them until the claim runs out, and skips the future', async () => {
    const old = await queue(LATE);
    const newer = await queue(LATE + 1);
    await queue(LATE + 10_000);
    const claimed = await repo().claimDue(LATE + 5, LATE + 5 + LOCK, 10);
    assert.deepEqual(claimed.map((c) => c.id).sort(), [old, newer].sort());
    assert.equal(claimed.find((c) => c.id === old)?.message_enc, `sealed-${old}`);
    assert.deepEqual(await repo().claimDue(LATE + 6, LATE + 6 + LOCK, 10), [], 'held');
    const again = await repo().claimDue(LATE + 5 + LOCK, LATE + 5 + 2 * LOCK, 1);
    assert.deepEqual(
      again.map((c) => c.id),
      [old],
      'a lapsed claim comes back, oldest first, within the limit',
    );
  });

  it('never hands one message to two of many concurrent claimers', async () => {
    for (let i = 0; i < 20; i++) await queue(LATE + i);
    const rounds = await Promise.all(Array.from({ length: 6 }, () => repo().claimDue(LATE + 100, LATE + LOCK, 5)));
    const ids = rounds.flat().map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, 'no message claimed twice');
    assert.equal(ids.length, 20);
  });

  it('claims one named message only when it is due and free', async () => {
    const id = await queue(LATE);
    assert.equal(await repo().claimOne(id, LATE - 1, LATE + LOCK), undefined, 'not yet due');
    assert.equal((await repo().claimOne(id, LATE, LATE + LOCK))?.id, id);
    assert.equal(await repo().claimOne(id, LATE + 1, LATE + LOCK), undefined, 'held by the first claim');
  });

  it('records a send: the message is deleted, the record stays, and it is never claimed again', async () => {
    const id = await queue(LATE);
    await repo().claimDue(LATE, LATE + LOCK, 1);
    await repo().recordSent(id, LATE + 7);
    const row = await repo().find(id);
    assert.deepEqual(
      [row?.status, row?.attempts, row?.sent_at, row?.message_enc, row?.claimed_until],
      ['sent', 1, LATE + 7, null, null],
    );
    assert.deepEqual(await repo().claimDue(LATE + 10 * LOCK, LATE + 11 * LOCK, 10), []);
    assert.equal(await repo().pendingCount(), 0);
  });

  it('records a failure: retried at the given time with the error kept, or given up and deleted', async () => {
    const retried = await queue(LATE);
    const given = await queue(LATE);
    await repo().claimDue(LATE, LATE + LOCK, 10);
    await repo().recordFailure(retried, `451 ${'x'.repeat(2000)}`, LATE + 60_000);
    await repo().recordFailure(given, '550 no such mailbox', null);
    const r = await repo().find(retried);
    assert.deepEqual(
      [r?.status, r?.attempts, r?.next_attempt_at, r?.claimed_until],
      ['pending', 1, LATE + 60_000, null],
    );
    assert.equal(r?.last_error?.length, 500, 'errors are kept bounded');
    assert.equal(r?.message_enc, `sealed-${retried}`, 'kept for the retry');
    const g = await repo().find(given);
    assert.deepEqual(
      [g?.status, g?.attempts, g?.last_error, g?.message_enc],
      ['failed', 1, '550 no such mailbox', null],
    );
    assert.deepEqual(await repo().claimDue(LATE + 59_999, LATE + LOCK, 10), []);
    assert.deepEqual(
      (await repo().claimDue(LATE + 60_000, LATE + 2 * LOCK, 10)).map((c) => c.id),
      [retried],
    );
  });

  it('gives a released message back to the next claimer at once', async () => {
    const id = await queue(LATE);
    await repo().claimDue(LATE, LATE + LOCK, 1);
    await repo().release(id);
    assert.deepEqual(
      (await repo().claimDue(LATE + 1, LATE + LOCK, 1)).map((c) => c.id),
      [id],
    );
  });

  it('settles a message once: a second outcome for a settled message changes nothing', async () => {
    const id = await queue(LATE);
    await repo().recordSent(id, LATE + 1);
    await repo().recordFailure(id, 'late failure', null);
    const row = await repo().find(id);
    assert.deepEqual([row?.status, row?.attempts, row?.last_error], ['sent', 1, null]);
  });
}

describeStorage('email outbox repository', emailOutboxRepoContract);
