import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../domain/errors.ts';
import type { PayloadWrite } from './payloads.repo.ts';
import { payloadsFixture, tokenRow } from '../../test/support/payloads-fixture.ts';

// Tokens saved by concurrent requests are committed together (db/group-commit.ts): each caller's
// row is there once its save settles, and a row the database refuses fails only its own caller.
describe('payloads: saves in the same turn committed together', () => {
  const fixture = payloadsFixture('group-commit');

  const token = (i: number, extra: Partial<PayloadWrite> = {}): PayloadWrite => tokenRow('ClientCredentials', i, extra);

  it('stores every row of more saves than one group holds, each readable once its save settles', async () => {
    const saves = Array.from({ length: 120 }, (_, i) =>
      fixture.payloads.upsert(token(i)).then(() => fixture.payloads.findById('ClientCredentials', `id-${i}`)),
    );
    const found = await Promise.all(saves);
    found.forEach((row, i) => {
      assert.deepEqual(row, {
        payload: JSON.stringify({ kind: 'ClientCredentials', n: i }),
        expires_at: 1_700_000_000_000 + i,
        consumed_at: null,
      });
    });
    const count = await fixture.db
      .selectFrom('oidc_payloads')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    assert.equal(Number(count?.n), 120);
  });

  it('updates rows already stored, as a save on its own does, keeping their consumption', async () => {
    await fixture.payloads.upsert(token(1, { type: 'RefreshToken', grantIdHash: 'g-1' }));
    await fixture.payloads.consume('RefreshToken', 'id-1', 1_700_000_000_500);
    await Promise.all([
      fixture.payloads.upsert(
        token(1, { type: 'RefreshToken', payload: '{"saved":2}', grantIdHash: 'g-2', expiresAt: 9 }),
      ),
      fixture.payloads.upsert(token(2, { type: 'RefreshToken' })),
    ]);
    const row = await fixture.db
      .selectFrom('oidc_payloads')
      .select(['payload', 'grant_id_hash', 'expires_at', 'consumed_at'])
      .where('type', '=', 'RefreshToken')
      .where('id_hash', '=', 'id-1')
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, {
      payload: '{"saved":2}',
      grant_id_hash: 'g-2',
      expires_at: 9,
      consumed_at: 1_700_000_000_500,
    });
  });

  it('fails only the save whose row is refused; the others of its group are stored', async () => {
    const results = await Promise.allSettled([
      fixture.payloads.upsert(token(1)),
      fixture.payloads.upsert(token(2, { payload: '{"bad":"\u0000"}' })),
      fixture.payloads.upsert(token(3)),
    ]);
    assert.equal(results[0].status, 'fulfilled');
    assert.equal(results[2].status, 'fulfilled');
    assert.equal(results[1].status, 'rejected');
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof ValidationError);
    assert.ok(await fixture.payloads.findById('ClientCredentials', 'id-1'));
    assert.equal(await fixture.payloads.findById('ClientCredentials', 'id-2'), undefined);
    assert.ok(await fixture.payloads.findById('ClientCredentials', 'id-3'));
  });

  it('keeps the later of two saves of the same row in one turn', async () => {
    await Promise.all([
      fixture.payloads.upsert(token(1, { payload: '{"save":"first"}' })),
      fixture.payloads.upsert(token(1, { payload: '{"save":"second"}' })),
    ]);
    assert.equal((await fixture.payloads.findById('ClientCredentials', 'id-1'))?.payload, '{"save":"second"}');
  });

  const consumedAt = async (type: string, idHash: string) =>
    (
      await fixture.db
        .selectFrom('oidc_payloads')
        .select('consumed_at')
        .where('type', '=', type)
        .where('id_hash', '=', idHash)
        .executeTakeFirstOrThrow()
    ).consumed_at;

  it('consumes each row of the same turn at its own time, and a consumed row keeps its first time', async () => {
    await Promise.all([1, 2, 3].map((i) => fixture.payloads.upsert(token(i, { type: 'RefreshToken' }))));
    await fixture.payloads.consume('RefreshToken', 'id-3', 1_000);
    await Promise.all([
      fixture.payloads.consume('RefreshToken', 'id-1', 2_001),
      fixture.payloads.consume('RefreshToken', 'id-2', 2_002),
      fixture.payloads.consume('RefreshToken', 'id-3', 2_003),
      fixture.payloads.consume('RefreshToken', 'id-1', 2_004),
      fixture.payloads.consume('RefreshToken', 'id-missing', 2_005),
    ]);
    assert.equal(await consumedAt('RefreshToken', 'id-1'), 2_001);
    assert.equal(await consumedAt('RefreshToken', 'id-2'), 2_002);
    assert.equal(await consumedAt('RefreshToken', 'id-3'), 1_000);
  });

  it('consumes only the row of the model named', async () => {
    await fixture.payloads.upsert(token(1, { type: 'RefreshToken' }));
    await fixture.payloads.upsert(token(1, { type: 'AuthorizationCode' }));
    await Promise.all([
      fixture.payloads.consume('AuthorizationCode', 'id-1', 3_000),
      fixture.payloads.consume('RefreshToken', 'id-2', 3_001),
    ]);
    assert.equal(await consumedAt('AuthorizationCode', 'id-1'), 3_000);
    assert.equal(await consumedAt('RefreshToken', 'id-1'), null);
  });
});
