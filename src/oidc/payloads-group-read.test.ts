import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../domain/errors.ts';
import type { PayloadWrite } from './payloads.repo.ts';
import { payloadsFixture, tokenRow } from '../../test/support/payloads-fixture.ts';

// Lookups by id made by concurrent requests are read together (db/group-read.ts): each caller gets
// its own row or undefined, as a lookup on its own answers, and sees every write settled before it.
describe('payloads: lookups in the same turn read together', () => {
  const fixture = payloadsFixture('group-read');

  const token = (type: string, i: number): PayloadWrite => tokenRow(type, i);
  const stored = (type: string, i: number, consumedAt: number | null = null) => ({
    payload: JSON.stringify({ kind: type, n: i }),
    expires_at: 1_700_000_000_000 + i,
    consumed_at: consumedAt,
  });

  it('answers each of more lookups than one group holds with its own row or undefined', async () => {
    for (let i = 0; i < 120; i += 2) await fixture.payloads.upsert(token('RefreshToken', i));
    const found = await Promise.all(
      Array.from({ length: 120 }, (_, i) => fixture.payloads.findById('RefreshToken', `id-${i}`)),
    );
    found.forEach((row, i) => {
      assert.deepEqual(row, i % 2 === 0 ? stored('RefreshToken', i) : undefined);
    });
  });

  it('answers a lookup in a group exactly as a lookup on its own', async () => {
    await fixture.payloads.upsert(token('RefreshToken', 1));
    await fixture.payloads.consume('RefreshToken', 'id-1', 1_700_000_000_500);
    const alone = await fixture.payloads.findById('RefreshToken', 'id-1');
    const [grouped] = await Promise.all([
      fixture.payloads.findById('RefreshToken', 'id-1'),
      fixture.payloads.findById('RefreshToken', 'id-2'),
    ]);
    assert.deepEqual(grouped, alone);
    assert.deepEqual(Object.keys(grouped ?? {}), ['payload', 'expires_at', 'consumed_at']);
    assert.deepEqual(grouped, stored('RefreshToken', 1, 1_700_000_000_500));
  });

  it('keeps models apart: the same id under another model name is not found', async () => {
    await fixture.payloads.upsert(token('RefreshToken', 1));
    await fixture.payloads.upsert(token('Grant', 2));
    const [refresh, grantAsRefresh, grant, refreshAsGrant] = await Promise.all([
      fixture.payloads.findById('RefreshToken', 'id-1'),
      fixture.payloads.findById('RefreshToken', 'id-2'),
      fixture.payloads.findById('Grant', 'id-2'),
      fixture.payloads.findById('Grant', 'id-1'),
    ]);
    assert.deepEqual(refresh, stored('RefreshToken', 1));
    assert.equal(grantAsRefresh, undefined);
    assert.deepEqual(grant, stored('Grant', 2));
    assert.equal(refreshAsGrant, undefined);
  });

  it('answers two lookups of the same id in one group alike', async () => {
    await fixture.payloads.upsert(token('Grant', 1));
    const [first, second] = await Promise.all([
      fixture.payloads.findById('Grant', 'id-1'),
      fixture.payloads.findById('Grant', 'id-1'),
    ]);
    assert.deepEqual(first, stored('Grant', 1));
    assert.deepEqual(second, stored('Grant', 1));
  });

  it('sees a destroy and a consume settled before the lookup, at once', async () => {
    await fixture.payloads.upsert(token('RefreshToken', 1));
    await fixture.payloads.upsert(token('RefreshToken', 2));
    await fixture.payloads.destroy('RefreshToken', 'id-1');
    await fixture.payloads.consume('RefreshToken', 'id-2', 1_700_000_000_900);
    const [gone, consumed] = await Promise.all([
      fixture.payloads.findById('RefreshToken', 'id-1'),
      fixture.payloads.findById('RefreshToken', 'id-2'),
    ]);
    assert.equal(gone, undefined);
    assert.deepEqual(consumed, stored('RefreshToken', 2, 1_700_000_000_900));
  });

  it('fails only the lookup whose id is refused; the others of its group are answered', async () => {
    await fixture.payloads.upsert(token('Grant', 1));
    await fixture.payloads.upsert(token('Grant', 3));
    const results = await Promise.allSettled([
      fixture.payloads.findById('Grant', 'id-1'),
      fixture.payloads.findById('Grant', 'id-\u0000'),
      fixture.payloads.findById('Grant', 'id-3'),
    ]);
    assert.deepEqual(results[0], { status: 'fulfilled', value: stored('Grant', 1) });
    assert.deepEqual(results[2], { status: 'fulfilled', value: stored('Grant', 3) });
    assert.equal(results[1].status, 'rejected');
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof ValidationError);
  });
});
