import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config.ts';
import { migrateToLatest, openDatabase, type DB } from '../db/client.ts';
import { ValidationError } from '../domain/errors.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { createPayloadsRepo, type PayloadsRepo, type PayloadWrite } from './payloads.repo.ts';

// Lookups by id made by concurrent requests are read together (db/group-read.ts): each caller gets
// its own row or undefined, as a lookup on its own answers, and sees every write settled before it.
describe('payloads: lookups in the same turn read together', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-group-read-'));
  let database: TestDatabase;
  let db: DB;
  let payloads: PayloadsRepo;

  before(async () => {
    database = await createTestDatabase(dir);
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }));
    await migrateToLatest(db);
    payloads = createPayloadsRepo(db);
  });
  beforeEach(async () => {
    await db.deleteFrom('oidc_payloads').execute();
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const token = (type: string, i: number): PayloadWrite => ({
    type,
    idHash: `id-${i}`,
    payload: JSON.stringify({ kind: type, n: i }),
    grantIdHash: null,
    clientId: 'app_1',
    uidHash: null,
    userCodeHash: null,
    expiresAt: 1_700_000_000_000 + i,
    accountId: null,
  });
  const stored = (type: string, i: number, consumedAt: number | null = null) => ({
    payload: JSON.stringify({ kind: type, n: i }),
    expires_at: 1_700_000_000_000 + i,
    consumed_at: consumedAt,
  });

  it('answers each of more lookups than one group holds with its own row or undefined', async () => {
    for (let i = 0; i < 120; i += 2) await payloads.upsert(token('RefreshToken', i));
    const found = await Promise.all(
      Array.from({ length: 120 }, (_, i) => payloads.findById('RefreshToken', `id-${i}`)),
    );
    found.forEach((row, i) => {
      assert.deepEqual(row, i % 2 === 0 ? stored('RefreshToken', i) : undefined);
    });
  });

  it('answers a lookup in a group exactly as a lookup on its own', async () => {
    await payloads.upsert(token('RefreshToken', 1));
    await payloads.consume('RefreshToken', 'id-1', 1_700_000_000_500);
    const alone = await payloads.findById('RefreshToken', 'id-1');
    const [grouped] = await Promise.all([
      payloads.findById('RefreshToken', 'id-1'),
      payloads.findById('RefreshToken', 'id-2'),
    ]);
    assert.deepEqual(grouped, alone);
    assert.deepEqual(Object.keys(grouped ?? {}), ['payload', 'expires_at', 'consumed_at']);
    assert.deepEqual(grouped, stored('RefreshToken', 1, 1_700_000_000_500));
  });

  it('keeps models apart: the same id under another model name is not found', async () => {
    await payloads.upsert(token('RefreshToken', 1));
    await payloads.upsert(token('Grant', 2));
    const [refresh, grantAsRefresh, grant, refreshAsGrant] = await Promise.all([
      payloads.findById('RefreshToken', 'id-1'),
      payloads.findById('RefreshToken', 'id-2'),
      payloads.findById('Grant', 'id-2'),
      payloads.findById('Grant', 'id-1'),
    ]);
    assert.deepEqual(refresh, stored('RefreshToken', 1));
    assert.equal(grantAsRefresh, undefined);
    assert.deepEqual(grant, stored('Grant', 2));
    assert.equal(refreshAsGrant, undefined);
  });

  it('answers two lookups of the same id in one group alike', async () => {
    await payloads.upsert(token('Grant', 1));
    const [first, second] = await Promise.all([payloads.findById('Grant', 'id-1'), payloads.findById('Grant', 'id-1')]);
    assert.deepEqual(first, stored('Grant', 1));
    assert.deepEqual(second, stored('Grant', 1));
  });

  it('sees a destroy and a consume settled before the lookup, at once', async () => {
    await payloads.upsert(token('RefreshToken', 1));
    await payloads.upsert(token('RefreshToken', 2));
    await payloads.destroy('RefreshToken', 'id-1');
    await payloads.consume('RefreshToken', 'id-2', 1_700_000_000_900);
    const [gone, consumed] = await Promise.all([
      payloads.findById('RefreshToken', 'id-1'),
      payloads.findById('RefreshToken', 'id-2'),
    ]);
    assert.equal(gone, undefined);
    assert.deepEqual(consumed, stored('RefreshToken', 2, 1_700_000_000_900));
  });

  it('fails only the lookup whose id is refused; the others of its group are answered', async () => {
    await payloads.upsert(token('Grant', 1));
    await payloads.upsert(token('Grant', 3));
    const results = await Promise.allSettled([
      payloads.findById('Grant', 'id-1'),
      payloads.findById('Grant', 'id-\u0000'),
      payloads.findById('Grant', 'id-3'),
    ]);
    assert.deepEqual(results[0], { status: 'fulfilled', value: stored('Grant', 1) });
    assert.deepEqual(results[2], { status: 'fulfilled', value: stored('Grant', 3) });
    assert.equal(results[1].status, 'rejected');
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof ValidationError);
  });
});
