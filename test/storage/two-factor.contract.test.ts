import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createTwoFactorRepo } from '../../src/features/accounts/two-factor.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import {
  LATE,
  LONG,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { insertUser, T0 } from './rows.ts';

const codes = (n: number) => Array.from({ length: n }, () => sha256(freshId('rc')));

/** TOTP enrollment, the replay guard (compare-and-set on the last step) and single-use recovery codes. */
export function twoFactorRepoContract(s: Storage): void {
  const repo = () => createTwoFactorRepo(s.db);

  it('answers undefined for an unknown account and all-null for one without a second factor', async () => {
    assert.equal(await repo().state('usr_nobody'), undefined);
    const user = await insertUser(s.db);
    assert.deepEqual(await repo().state(user.id), {
      totp_secret_enc: null,
      totp_pending_secret_enc: null,
      totp_last_step: null,
      totp_enabled_at: null,
    });
  });

  it('enables the pending secret with fresh recovery codes, and disabling clears both', async () => {
    const user = await insertUser(s.db);
    await repo().setPending(user.id, LONG);
    assert.equal((await repo().state(user.id))?.totp_pending_secret_enc, LONG);

    const first = codes(10);
    await repo().enable(user.id, 'v1.confirmed', 58_907_520, first, LATE);
    assert.deepEqual(await repo().state(user.id), {
      totp_secret_enc: 'v1.confirmed',
      totp_pending_secret_enc: null,
      totp_last_step: 58_907_520,
      totp_enabled_at: LATE,
    });
    assert.equal(await repo().unusedRecoveryCodes(user.id), 10);

    // Enabling again replaces the codes: the old ones no longer work.
    const second = codes(3);
    await repo().enable(user.id, 'v1.again', 58_907_521, second, LATE + 1);
    assert.equal(await repo().unusedRecoveryCodes(user.id), 3);
    assert.equal(await repo().useRecoveryCode(user.id, first[0]!, LATE), false);

    await repo().disable(user.id, LATE + 2);
    assert.deepEqual(await repo().state(user.id), {
      totp_secret_enc: null,
      totp_pending_secret_enc: null,
      totp_last_step: null,
      totp_enabled_at: null,
    });
    assert.equal(await repo().unusedRecoveryCodes(user.id), 0);
    assert.equal(await repo().useRecoveryCode(user.id, second[0]!, LATE), false);
  });

  it('enables atomically: a failing code insert leaves the account as it was', async () => {
    const user = await insertUser(s.db);
    const taken = codes(1);
    const other = await insertUser(s.db);
    await repo().enable(other.id, 'v1.other', 1, taken, T0);
    await repo().setPending(user.id, 'v1.pending');
    await assertUniqueViolation(repo().enable(user.id, 'v1.mine', 2, [...codes(2), taken[0]!], T0));
    const state = await repo().state(user.id);
    assert.equal(state?.totp_secret_enc, null);
    assert.equal(state?.totp_pending_secret_enc, 'v1.pending');
    assert.equal(await repo().unusedRecoveryCodes(user.id), 0);
  });

  it('accepts each TOTP step once and only moving forward', async () => {
    const user = await insertUser(s.db);
    assert.equal(await repo().advanceStep(user.id, 100), true, 'the first step');
    assert.equal(await repo().advanceStep(user.id, 100), false, 'the same step again');
    assert.equal(await repo().advanceStep(user.id, 99), false, 'an earlier step');
    assert.equal(await repo().advanceStep(user.id, 2 ** 40), true, 'a later step, past 2^32');
    assert.equal((await repo().state(user.id))?.totp_last_step, 2 ** 40);
    assert.equal(await repo().advanceStep('usr_nobody', 1), false);
  });

  it('lets exactly one of several concurrent uses of one step through', async () => {
    const user = await insertUser(s.db);
    const results = await Promise.all(Array.from({ length: 8 }, () => repo().advanceStep(user.id, 500)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('spends a recovery code once, even when it is presented twice at once', async () => {
    const user = await insertUser(s.db);
    const stranger = await insertUser(s.db);
    const [a, b] = codes(2);
    await repo().enable(user.id, 'v1.s', 1, [a!, b!], T0);
    assert.equal(await repo().useRecoveryCode(stranger.id, a!, T0), false, "another account's code");
    assert.equal(await repo().useRecoveryCode(user.id, sha256('unknown'), T0), false);
    const results = await Promise.all(Array.from({ length: 6 }, () => repo().useRecoveryCode(user.id, a!, T0)));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await repo().unusedRecoveryCodes(user.id), 1);
    assert.equal(await repo().useRecoveryCode(user.id, b!, T0), true);
    assert.equal(await repo().unusedRecoveryCodes(user.id), 0);
  });

  it('refuses NUL in a sealed secret', async () => {
    const user = await insertUser(s.db);
    await assertRefusesNul(repo().setPending(user.id, 'v1.\u0000'));
    assert.equal((await repo().state(user.id))?.totp_pending_secret_enc, null);
  });
}

describeStorage('two-factor repository', twoFactorRepoContract);
