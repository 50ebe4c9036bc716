import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createPasskeysRepo, type PasskeyRow } from '../../src/features/passkeys/passkeys.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import {
  AWKWARD,
  LATE,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { insertUser, T0 } from './rows.ts';

const passkeyRow = (userId: string, over: Partial<PasskeyRow> = {}): PasskeyRow => ({
  id: freshId('pk'),
  user_id: userId,
  credential_id: freshId('cred'),
  public_key: 'pQECAyYgASFYIA',
  counter: 0,
  transports: '["internal"]',
  device_type: 'singleDevice',
  backed_up: 0,
  name: 'Work laptop',
  created_at: T0,
  last_used_at: null,
  ...over,
});

/** Passkeys (one row a WebAuthn credential) and their ceremonies' single-use challenges. */
export function passkeysRepoContract(s: Storage): void {
  const repo = () => createPasskeysRepo(s.db);

  it("stores a passkey whole, finds it by credential id, and lists an account's oldest first", async () => {
    const user = await insertUser(s.db);
    const newer = passkeyRow(user.id, { created_at: LATE, name: AWKWARD, counter: 2 ** 33, backed_up: 1 });
    const older = passkeyRow(user.id, { transports: null, device_type: 'multiDevice' });
    await repo().insert(newer);
    await repo().insert(older);
    assert.deepEqual(await repo().findByCredentialId(newer.credential_id), newer);
    assert.equal(await repo().findByCredentialId('unknown'), undefined);
    assert.deepEqual(await repo().listOf(user.id), [older, newer]);
    assert.deepEqual(await repo().listOf('usr_nobody'), []);
  });

  it('refuses a credential id already stored, on any account', async () => {
    const a = await insertUser(s.db);
    const b = await insertUser(s.db);
    const first = passkeyRow(a.id);
    await repo().insert(first);
    await assertUniqueViolation(repo().insert(passkeyRow(b.id, { credential_id: first.credential_id })));
    assert.deepEqual(await repo().listOf(b.id), []);
  });

  it("deletes only the account's own passkey", async () => {
    const owner = await insertUser(s.db);
    const stranger = await insertUser(s.db);
    const row = passkeyRow(owner.id);
    await repo().insert(row);
    assert.equal(await repo().deleteOf(stranger.id, row.id), undefined);
    assert.deepEqual(await repo().findByCredentialId(row.credential_id), row);
    assert.deepEqual(await repo().deleteOf(owner.id, row.id), row);
    assert.equal(await repo().findByCredentialId(row.credential_id), undefined);
  });

  it('records a use: the counter past 2^32, the backup state and the time', async () => {
    const user = await insertUser(s.db);
    const row = passkeyRow(user.id);
    await repo().insert(row);
    await repo().recordUse(row.id, { counter: 2 ** 32 + 5, backedUp: true, deviceType: 'multiDevice', at: LATE });
    const used = await repo().findByCredentialId(row.credential_id);
    assert.equal(Number(used?.counter), 2 ** 32 + 5);
    assert.equal(used?.backed_up, 1);
    assert.equal(used?.device_type, 'multiDevice');
    assert.equal(used?.last_used_at, LATE);
  });

  it('goes with its account', async () => {
    const user = await insertUser(s.db);
    const row = passkeyRow(user.id);
    await repo().insert(row);
    await repo().insertChallenge({
      challenge_hash: sha256(freshId('ch')),
      purpose: 'register',
      user_id: user.id,
      browser_hash: 'b',
      expires_at: LATE,
    });
    await s.db.deleteFrom('users').where('id', '=', user.id).execute();
    assert.equal(await repo().findByCredentialId(row.credential_id), undefined);
    const left = await s.db.selectFrom('passkey_challenges').select('user_id').where('user_id', '=', user.id).execute();
    assert.deepEqual(left, []);
  });

  it('gives a challenge once, only for its purpose and browser, before it expires', async () => {
    const hash = sha256(freshId('ch'));
    await repo().insertChallenge({
      challenge_hash: hash,
      purpose: 'authenticate',
      user_id: null,
      browser_hash: 'b1',
      expires_at: LATE,
    });
    assert.equal(await repo().takeChallenge(hash, 'register', 'b1', T0), undefined, 'another purpose');
    assert.equal(await repo().takeChallenge(hash, 'authenticate', 'b2', T0), undefined, 'another browser');
    assert.equal(await repo().takeChallenge(hash, 'authenticate', 'b1', LATE), undefined, 'expired');
    const taken = await Promise.all(
      Array.from({ length: 6 }, () => repo().takeChallenge(hash, 'authenticate', 'b1', T0)),
    );
    assert.equal(taken.filter(Boolean).length, 1, 'one of six racing answers');
    assert.equal(await repo().takeChallenge(hash, 'authenticate', 'b1', T0), undefined, 'used');
  });

  it('prunes only expired challenges', async () => {
    const expired = sha256(freshId('ch'));
    const live = sha256(freshId('ch'));
    const row = { purpose: 'authenticate', user_id: null, browser_hash: 'b' };
    await repo().insertChallenge({ ...row, challenge_hash: expired, expires_at: T0 });
    await repo().insertChallenge({ ...row, challenge_hash: live, expires_at: LATE });
    await repo().deleteExpiredChallenges(T0);
    assert.equal(await repo().takeChallenge(expired, 'authenticate', 'b', 0), undefined);
    assert.ok(await repo().takeChallenge(live, 'authenticate', 'b', T0));
  });

  it('refuses NUL in a name', async () => {
    const user = await insertUser(s.db);
    await assertRefusesNul(repo().insert(passkeyRow(user.id, { name: 'a\u0000b' })));
    assert.deepEqual(await repo().listOf(user.id), []);
  });
}

describeStorage('passkeys repository', passkeysRepoContract);
