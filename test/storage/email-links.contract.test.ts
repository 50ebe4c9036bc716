import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createEmailLinksRepo } from '../../src/features/accounts/email-links.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import { describeStorage, freshId, type Storage } from './contract.ts';
import { insertUser, T0 } from './rows.ts';

/** Single-use emailed links: used once by one conditional update, retired, expired, pruned. */
export function emailLinksRepoContract(s: Storage): void {
  const repo = () => createEmailLinksRepo(s.db);
  const link = (userId: string, over: Partial<Parameters<ReturnType<typeof repo>['insert']>[0]> = {}) => ({
    token_hash: sha256(freshId('tok')),
    user_id: userId,
    purpose: 'reset_password' as const,
    email: 'owner@example.test',
    created_at: T0,
    expires_at: T0 + 60_000,
    ...over,
  });

  it('uses a link once, for its purpose, before it expires', async () => {
    const user = await insertUser(s.db);
    const row = link(user.id);
    await repo().insert(row);
    assert.equal(await repo().use('verify_email', row.token_hash, T0 + 1), undefined, 'another purpose');
    assert.equal((await repo().findUsable('reset_password', row.token_hash, T0 + 1))?.user_id, user.id);
    const used = await repo().use('reset_password', row.token_hash, T0 + 1);
    assert.deepEqual(used, { ...row, used_at: T0 + 1 });
    assert.equal(await repo().use('reset_password', row.token_hash, T0 + 2), undefined, 'used already');
    assert.equal(await repo().findUsable('reset_password', row.token_hash, T0 + 2), undefined);

    const late = link(user.id);
    await repo().insert(late);
    assert.equal(await repo().use('reset_password', late.token_hash, late.expires_at), undefined, 'expired');
  });

  it('lets only one of many concurrent uses of a link succeed', async () => {
    const user = await insertUser(s.db);
    const row = link(user.id);
    await repo().insert(row);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => repo().use('reset_password', row.token_hash, T0 + 5)),
    );
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('retires the unused links of one account and purpose only', async () => {
    const a = await insertUser(s.db);
    const b = await insertUser(s.db);
    const mine = link(a.id);
    const myVerify = link(a.id, { purpose: 'verify_email' });
    const theirs = link(b.id);
    for (const r of [mine, myVerify, theirs]) await repo().insert(r);
    assert.equal(await repo().retire(a.id, 'reset_password', T0 + 1), 1);
    assert.equal(await repo().use('reset_password', mine.token_hash, T0 + 2), undefined);
    assert.ok(await repo().use('verify_email', myVerify.token_hash, T0 + 2));
    assert.ok(await repo().use('reset_password', theirs.token_hash, T0 + 2));
  });

  it('prunes settled links and keeps usable ones; links go with their account', async () => {
    const user = await insertUser(s.db);
    const expired = link(user.id, { expires_at: T0 + 10 });
    const live = link(user.id, { expires_at: T0 + 10_000 });
    for (const r of [expired, live]) await repo().insert(r);
    await repo().deleteSettled(T0 + 100);
    assert.equal(
      await repo()
        .findUsable('reset_password', live.token_hash, T0 + 100)
        .then((r) => r?.user_id),
      user.id,
    );
    const left = await s.db.selectFrom('email_links').select('token_hash').where('user_id', '=', user.id).execute();
    assert.deepEqual(left, [{ token_hash: live.token_hash }]);
    await s.db.deleteFrom('users').where('id', '=', user.id).execute();
    assert.equal(await repo().findUsable('reset_password', live.token_hash, T0 + 100), undefined);
  });
}

describeStorage('email links repository', emailLinksRepoContract);
