import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AdapterPayload } from 'oidc-provider';
import { loadConfig } from '../config.ts';
import { migrateToLatest, openDatabase, type DB } from '../db/client.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { sha256 } from '../shared/secrets.ts';
import { createAdapterFactory } from './adapter.ts';
import { createPayloadsRepo, type PayloadsRepo, type StoredPayload } from './payloads.repo.ts';
import { createTtlCache } from '../shared/ttl-cache.ts';
import { createSecretBox } from '../shared/encryption.ts';

// The oidc-provider adapter against a real database (a SQLite file, or a fresh PostgreSQL database
// with TEST_DATABASE=postgres): hashed keys, jti restored on read, consumption (with the
// refresh-token reuse grace), grant revocation and expiry.
describe('Kysely adapter', () => {
  const GRACE_MS = 5_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-adapter-'));
  let database: TestDatabase;
  let db: DB;
  let payloads: PayloadsRepo;
  let adapter: ReturnType<typeof createAdapterFactory>;
  let clock: number;
  const clientMetadata = { client_id: 'app_1', client_name: 'One', redirect_uris: ['https://a.example/cb'] };

  before(async () => {
    database = await createTestDatabase(dir);
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }));
    await migrateToLatest(db);
    payloads = createPayloadsRepo(db);
    adapter = createAdapterFactory({
      payloads,
      findClient: async (id) => (id === 'app_1' ? clientMetadata : undefined),
      refreshTokenReuseGraceMs: GRACE_MS,
      now: () => clock,
      box: createSecretBox(crypto.randomBytes(32)),
    });
  });
  beforeEach(async () => {
    clock = 1_700_000_000_000;
    await db.deleteFrom('oidc_payloads').execute();
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => db.selectFrom('oidc_payloads').selectAll().execute();
  const tokenPayload = (id: string, extra: Partial<AdapterPayload> = {}): AdapterPayload => ({
    jti: id,
    kind: 'AccessToken',
    clientId: 'app_1',
    accountId: 'usr_1',
    grantId: 'grant-A',
    scope: 'read:users',
    iat: Math.floor(clock / 1000),
    exp: Math.floor(clock / 1000) + 3600,
    ...extra,
  });

  it('restores jti on find and returns everything else as stored', async () => {
    const payload = tokenPayload('at-raw-id-1');
    await adapter('AccessToken').upsert('at-raw-id-1', payload, 3600);
    assert.deepEqual(await adapter('AccessToken').find('at-raw-id-1'), payload);
    assert.equal(await adapter('AccessToken').find('at-raw-id-2'), undefined);
    assert.equal(await adapter('RefreshToken').find('at-raw-id-1'), undefined, 'models are separate');
  });

  it('stores only hashes of the id, grant id and uid, and no jti', async () => {
    await adapter('AccessToken').upsert('at-raw-id-1', tokenPayload('at-raw-id-1', { uid: 'uid-raw-1' }), 3600);
    const [row, ...rest] = await rows();
    assert.equal(rest.length, 0);
    assert.equal(row!.type, 'AccessToken');
    assert.equal(row!.id_hash, sha256('at-raw-id-1'));
    assert.equal(row!.grant_id_hash, sha256('grant-A'));
    assert.equal(row!.uid_hash, sha256('uid-raw-1'));
    assert.equal(row!.client_id, 'app_1');
    assert.equal(row!.expires_at, clock + 3_600_000);
    assert.equal(row!.consumed_at, null);
    assert.equal('jti' in JSON.parse(row!.payload), false);
    for (const value of Object.values(row!)) assert.ok(!String(value).includes('at-raw-id-1'), String(value));
  });

  it('replaces the payload on a second upsert of the same id', async () => {
    const a = adapter('Session');
    await a.upsert('sess-1', { jti: 'sess-1', kind: 'Session', uid: 'u1', accountId: 'usr_1' }, 60);
    await a.upsert('sess-1', { jti: 'sess-1', kind: 'Session', uid: 'u1', accountId: 'usr_2' }, 60);
    assert.equal((await rows()).length, 1);
    assert.equal((await a.find('sess-1'))!.accountId, 'usr_2');
  });

  it('marks a token consumed, keeping the first consumption time', async () => {
    for (const model of ['AccessToken', 'AuthorizationCode']) {
      const a = adapter(model);
      await a.upsert(`${model}-1`, tokenPayload(`${model}-1`, { kind: model }), 60);
      assert.equal((await a.find(`${model}-1`))!.consumed, undefined);
      await a.consume(`${model}-1`);
      const consumedAt = clock;
      clock += 2_000;
      await a.consume(`${model}-1`);
      assert.equal((await a.find(`${model}-1`))!.consumed, Math.floor(consumedAt / 1000));
      const stored = await db
        .selectFrom('oidc_payloads')
        .select('consumed_at')
        .where('id_hash', '=', sha256(`${model}-1`))
        .executeTakeFirstOrThrow();
      assert.equal(stored.consumed_at, consumedAt);
    }
  });

  it('serves a consumed refresh token as unconsumed within the reuse grace, and consumed after it', async () => {
    const a = adapter('RefreshToken');
    await a.upsert('rt-1', tokenPayload('rt-1', { kind: 'RefreshToken' }), 86_400);
    const consumedAt = clock;
    await a.consume('rt-1');
    assert.equal((await a.find('rt-1'))!.consumed, undefined);
    clock = consumedAt + GRACE_MS - 1;
    await a.consume('rt-1'); // a second tab rotating it again does not restart the window
    assert.equal((await a.find('rt-1'))!.consumed, undefined);
    clock = consumedAt + GRACE_MS + 1;
    assert.equal((await a.find('rt-1'))!.consumed, Math.floor(consumedAt / 1000));
  });

  it('never serves a consumed refresh token as unconsumed when the grace is 0', async () => {
    const strict = createAdapterFactory({
      payloads,
      findClient: async () => undefined,
      refreshTokenReuseGraceMs: 0,
      now: () => clock,
    })('RefreshToken');
    await strict.upsert('rt-0', tokenPayload('rt-0', { kind: 'RefreshToken' }), 86_400);
    await strict.consume('rt-0');
    assert.equal((await strict.find('rt-0'))!.consumed, Math.floor(clock / 1000));
  });

  it('destroys a single row', async () => {
    const a = adapter('AccessToken');
    await a.upsert('at-1', tokenPayload('at-1'), 60);
    await a.upsert('at-2', tokenPayload('at-2'), 60);
    await a.destroy('at-1');
    assert.equal(await a.find('at-1'), undefined);
    assert.ok(await a.find('at-2'));
    await a.destroy('at-unknown');
  });

  it("revokes by grant id only that model's rows of that grant", async () => {
    await adapter('AccessToken').upsert('at-A1', tokenPayload('at-A1'), 60);
    await adapter('AccessToken').upsert('at-A2', tokenPayload('at-A2'), 60);
    await adapter('AccessToken').upsert('at-B1', tokenPayload('at-B1', { grantId: 'grant-B' }), 60);
    await adapter('RefreshToken').upsert('rt-A1', tokenPayload('rt-A1', { kind: 'RefreshToken' }), 60);

    await adapter('AccessToken').revokeByGrantId('grant-A');
    assert.equal(await adapter('AccessToken').find('at-A1'), undefined);
    assert.equal(await adapter('AccessToken').find('at-A2'), undefined);
    assert.ok(await adapter('AccessToken').find('at-B1'));
    assert.ok(await adapter('RefreshToken').find('rt-A1'));

    await adapter('RefreshToken').revokeByGrantId('grant-A');
    assert.equal(await adapter('RefreshToken').find('rt-A1'), undefined);
    assert.equal((await rows()).length, 1);
  });

  it('finds a session by its uid', async () => {
    const a = adapter('Session');
    const session = { jti: 'sess-raw', kind: 'Session', uid: 'uid-raw', accountId: 'usr_1' };
    await a.upsert('sess-raw', session, 60);
    const found = await a.findByUid('uid-raw');
    assert.equal(found!.accountId, 'usr_1');
    assert.equal(found!.uid, 'uid-raw');
    assert.equal(found!.jti, undefined, 'the raw id is not stored, so it cannot be restored here');
    assert.equal(await a.findByUid('uid-other'), undefined);
    assert.equal(await adapter('AccessToken').findByUid('uid-raw'), undefined);
  });

  it('finds a device code by its user code, with its id, neither kept raw', async () => {
    const a = adapter('DeviceCode');
    await a.upsert('dc-raw', { jti: 'dc-raw', kind: 'DeviceCode', userCode: 'ABCDEFGH', clientId: 'app_1' }, 60);
    const found = await a.findByUserCode('ABCDEFGH');
    assert.equal(found!.clientId, 'app_1');
    // oidc-provider saves the code it found by its id: the id comes back (from its seal), as does the code.
    assert.equal(found!.jti, 'dc-raw');
    assert.equal(found!.userCode, 'ABCDEFGH');
    assert.equal(await a.findByUserCode('ABCDXXXX'), undefined);
    const [row] = await rows();
    assert.equal(row!.user_code_hash, sha256('ABCDEFGH'));
    assert.doesNotMatch(row!.payload, /dc-raw|ABCDEFGH/);
    // Saved again by its id (no user code in the payload then), it is still found by the code.
    await a.upsert('dc-raw', { jti: 'dc-raw', kind: 'DeviceCode', clientId: 'app_1', accountId: 'u1' }, 60);
    assert.equal((await a.findByUserCode('ABCDEFGH'))!.accountId, 'u1');
  });

  it('keeps a device code row past its end, so that oidc-provider can say it expired', async () => {
    const a = adapter('DeviceCode');
    await a.upsert('dc-late', { jti: 'dc-late', kind: 'DeviceCode', userCode: 'LATECODE', clientId: 'app_1' }, 60);
    clock += 61_000;
    assert.equal((await a.find('dc-late'))!.clientId, 'app_1');
    clock += 3_600_000;
    assert.equal(await a.find('dc-late'), undefined);
  });

  it('seals the device code an interaction names, and opens it on read', async () => {
    const i = adapter('Interaction');
    await i.upsert('int-1', { jti: 'int-1', kind: 'Interaction', deviceCode: 'dc-secret', uid: 'int-1' }, 60);
    assert.doesNotMatch((await rows())[0]!.payload, /dc-secret/);
    assert.equal((await i.find('int-1'))!['deviceCode'], 'dc-secret');
  });

  it('does not return expired rows, and deleteExpired removes exactly those', async () => {
    const a = adapter('AccessToken');
    await a.upsert('short', tokenPayload('short'), 10);
    await a.upsert('long', tokenPayload('long'), 3600);
    await adapter('Session').upsert('no-expiry', { jti: 'no-expiry', kind: 'Session', uid: 'u-ne' }, 0);
    const start = clock;

    clock = start + 9_999;
    assert.ok(await a.find('short'));
    clock = start + 10_000;
    assert.equal(await a.find('short'), undefined);
    assert.ok(await a.find('long'));
    assert.ok(await adapter('Session').find('no-expiry'));

    clock = start + 10_001;
    assert.equal(await payloads.deleteExpired(clock), 1);
    const left = (await rows()).map((r) => r.id_hash).sort();
    assert.deepEqual(left, [sha256('long'), sha256('no-expiry')].sort());
    clock = start + 3_600_001;
    assert.equal(await payloads.deleteExpired(clock), 1);
    assert.deepEqual(
      (await rows()).map((r) => r.id_hash),
      [sha256('no-expiry')],
    );
  });

  it('reads clients from the applications lookup and never stores them', async () => {
    const a = adapter('Client');
    assert.deepEqual(await a.find('app_1'), clientMetadata);
    assert.equal(await a.find('app_unknown'), undefined);
    await a.upsert('app_2', { client_id: 'app_2' }, 0);
    assert.equal((await rows()).length, 0);
  });

  describe('with a row cache (CREDENTIAL_CACHE_TTL)', () => {
    const TTL_MS = 10_000;
    let cached: ReturnType<typeof createAdapterFactory>;
    let revocations: number;
    before(() => {
      const rowCache = createTtlCache<StoredPayload | null>({ ttlMs: TTL_MS, max: 100, now: () => clock });
      cached = createAdapterFactory({
        payloads,
        findClient: async () => undefined,
        refreshTokenReuseGraceMs: GRACE_MS,
        now: () => clock,
        rowCache,
        onRevoked: () => {
          revocations += 1;
          rowCache.clear();
        },
      });
    });
    beforeEach(() => {
      revocations = 0;
    });

    it('serves access tokens it read within the time to live, and evicts on its own writes at once', async () => {
      const at = cached('AccessToken');
      assert.equal(await at.find('tok-1'), undefined, 'not issued yet');
      await at.upsert('tok-1', tokenPayload('tok-1'), 3600);
      assert.equal((await at.find('tok-1'))?.jti, 'tok-1', 'issuing evicts the remembered not-found');

      // Another instance deletes the row: this one trusts what it read until the time to live ends.
      await db.deleteFrom('oidc_payloads').execute();
      assert.equal((await at.find('tok-1'))?.accountId, 'usr_1');
      clock += TTL_MS;
      assert.equal(await at.find('tok-1'), undefined);

      // Revocation through this adapter is seen at once, and tells the listener.
      await at.upsert('tok-2', tokenPayload('tok-2'), 3600);
      assert.ok(await at.find('tok-2'));
      await at.destroy('tok-2');
      assert.equal(await at.find('tok-2'), undefined);
      assert.equal(revocations, 1);
      await at.upsert('tok-3', tokenPayload('tok-3', { grantId: 'grant-B' }), 3600);
      assert.ok(await at.find('tok-3'));
      await cached('AccessToken').revokeByGrantId('grant-B');
      assert.equal(await at.find('tok-3'), undefined);
      // Rows are not indexed by grant in the cache: revoking any grant, through any model, empties it.
      await at.upsert('tok-5', tokenPayload('tok-5'), 3600);
      assert.ok(await at.find('tok-5'));
      await db.deleteFrom('oidc_payloads').execute();
      await cached('RefreshToken').revokeByGrantId('grant-C');
      assert.equal(await at.find('tok-5'), undefined);
    });

    it('still refuses an expired token it remembers, and never caches refresh tokens', async () => {
      const at = cached('AccessToken');
      await at.upsert('tok-4', tokenPayload('tok-4'), 60);
      assert.ok(await at.find('tok-4'));
      clock += 60_000;
      assert.equal(await at.find('tok-4'), undefined);

      clock = 1_700_000_000_000;
      const rt = cached('RefreshToken');
      await rt.upsert('rt-1', tokenPayload('rt-1', { kind: 'RefreshToken' }), 3600);
      assert.ok(await rt.find('rt-1'));
      await db.deleteFrom('oidc_payloads').where('type', '=', 'RefreshToken').execute();
      assert.equal(await rt.find('rt-1'), undefined, 'read fresh every time');
    });
  });
});
