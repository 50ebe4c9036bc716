import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createPayloadsRepo, type PayloadWrite } from '../../src/oidc/payloads.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import { LATE, LONG, assertRefusesNul, describeStorage, freshId, type Storage } from './contract.ts';
import { T0 } from './rows.ts';

/** oidc-provider's models: keyed by (model, id hash), consumed once, destroyed by id, grant, client, account or age. */
export function payloadsRepoContract(s: Storage): void {
  const repo = () => createPayloadsRepo(s.db);
  const write = (over: Partial<PayloadWrite> = {}): PayloadWrite => ({
    type: 'AccessToken',
    idHash: sha256(freshId('tok')),
    payload: JSON.stringify({ kind: 'AccessToken', scope: 'read:users', accountId: 'usr_1' }),
    grantIdHash: sha256(freshId('grant')),
    clientId: freshId('app'),
    uidHash: null,
    userCodeHash: null,
    expiresAt: LATE,
    accountId: null,
    ...over,
  });
  const found = (w: PayloadWrite) => repo().findById(w.type, w.idHash);

  it('reads back the payload text exactly, with its expiry and no consumption', async () => {
    const w = write({ payload: JSON.stringify({ claims: { name: 'Zoë 🦊' }, big: LONG, n: 2 ** 53 - 1 }) });
    await repo().upsert(w);
    assert.deepEqual(await found(w), { payload: w.payload, expires_at: LATE, consumed_at: null });
    const forever = write({ expiresAt: null });
    await repo().upsert(forever);
    assert.equal((await found(forever))?.expires_at, null);
    assert.equal(await repo().findById('AccessToken', sha256('unknown')), undefined);
  });

  it('keeps one row per model and id: the same id under another model is another row', async () => {
    const w = write();
    await repo().upsert(w);
    const sibling = { ...w, type: 'RefreshToken', payload: '{"kind":"RefreshToken"}' };
    await repo().upsert(sibling);
    assert.equal((await found(w))?.payload, w.payload);
    assert.equal((await found(sibling))?.payload, sibling.payload);
  });

  it('upserts: a second save replaces the payload and expiry, and never un-consumes', async () => {
    const w = write({ type: 'AuthorizationCode' });
    await repo().upsert(w);
    await repo().consume(w.type, w.idHash, T0);
    await repo().upsert({ ...w, payload: '{"saved":2}', expiresAt: LATE + 1 });
    assert.deepEqual(await found(w), { payload: '{"saved":2}', expires_at: LATE + 1, consumed_at: T0 });
  });

  it('finds a row by uid or user code hash, within its model', async () => {
    const uidHash = sha256(freshId('uid'));
    const userCodeHash = sha256(freshId('code'));
    const session = write({ type: 'Session', uidHash, accountId: 'usr_x' });
    const device = write({ type: 'DeviceCode', userCodeHash });
    await repo().upsert(session);
    await repo().upsert(device);
    assert.deepEqual(await repo().findBy('Session', 'uid_hash', uidHash), {
      id_hash: session.idHash,
      payload: session.payload,
      expires_at: LATE,
      consumed_at: null,
    });
    assert.equal((await repo().findBy('DeviceCode', 'user_code_hash', userCodeHash))?.id_hash, device.idHash);
    assert.equal(await repo().findBy('Interaction', 'uid_hash', uidHash), undefined, 'another model');
    assert.equal(await repo().findBy('Session', 'uid_hash', sha256('nope')), undefined);
  });

  it('consumes once: a consume racing itself, and any later one, keep the first time', async () => {
    const w = write({ type: 'RefreshToken' });
    await repo().upsert(w);
    await Promise.all(Array.from({ length: 6 }, (_, i) => repo().consume(w.type, w.idHash, LATE + i)));
    const first = (await found(w))?.consumed_at;
    assert.ok(first !== null && first !== undefined && first >= LATE && first < LATE + 6);
    await repo().consume(w.type, w.idHash, LATE + 1_000);
    assert.equal((await found(w))?.consumed_at, first);
    await repo().consume('RefreshToken', sha256('unknown'), T0); // nothing to consume: no error
  });

  it('destroys by id, by grant within a model, by client, and the sessions of an account', async () => {
    const grantIdHash = sha256(freshId('grant'));
    const clientId = freshId('app');
    const byId = write();
    const grantAccess = write({ grantIdHash });
    const grantRefresh = write({ type: 'RefreshToken', grantIdHash });
    const clientCode = write({ type: 'AuthorizationCode', clientId });
    const clientToken = write({ clientId, grantIdHash: null });
    const sessionA = write({ type: 'Session', accountId: 'usr_a', grantIdHash: null });
    const sessionA2 = write({ type: 'Session', accountId: 'usr_a', grantIdHash: null });
    const sessionB = write({ type: 'Session', accountId: 'usr_b', grantIdHash: null });
    const all = [byId, grantAccess, grantRefresh, clientCode, clientToken, sessionA, sessionA2, sessionB];
    for (const w of all) await repo().upsert(w);

    await repo().destroy(byId.type, byId.idHash);
    await repo().destroyByGrant('AccessToken', grantIdHash);
    await repo().destroyByClient(clientId);
    await repo().deleteSessionsOf('usr_a');

    const left = [];
    for (const w of all) if (await found(w)) left.push(w);
    assert.deepEqual(left, [grantRefresh, sessionB], 'the grant is destroyed one model at a time');
  });

  it('deletes what expired before now, keeps what expires at now or never, and says how many', async () => {
    const now = LATE + 5_000_000;
    const expired = [write({ expiresAt: now - 1 }), write({ expiresAt: T0 })];
    const atNow = write({ expiresAt: now });
    const never = write({ expiresAt: null });
    for (const w of [...expired, atNow, never]) await repo().upsert(w);
    const deleted = await repo().deleteExpired(now);
    assert.ok(deleted >= 2, `deleted ${deleted}`);
    for (const w of expired) assert.equal(await found(w), undefined);
    assert.ok(await found(atNow));
    assert.ok(await found(never));
    assert.equal(await repo().deleteExpired(now), 0, 'nothing left to delete');
  });

  it('refuses NUL in a payload', async () => {
    const w = write({ payload: '{"a":"\u0000"}' });
    await assertRefusesNul(repo().upsert(w));
    assert.equal(await found(w), undefined);
  });
}

describeStorage('oidc payloads repository', payloadsRepoContract);
