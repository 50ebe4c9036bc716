import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrateTo, migrateToLatest, type DB } from '../../src/db/client.ts';
import { createBrowserSessionsRepo } from '../../src/features/accounts/accounts.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import { openUnmigratedDatabase, testBackend } from '../support/database.ts';
import { LATE } from './contract.ts';

/**
 * Migration 0013 on a database that already has dashboard sessions: they stay signed in, and each
 * gets its own handle for the Settings → Sessions forms.
 */
describe(`migration 0013 keeps existing sessions (${testBackend})`, () => {
  let opened: Awaited<ReturnType<typeof openUnmigratedDatabase>>;
  let db: DB;
  before(async () => {
    opened = await openUnmigratedDatabase('latchkey-m0013-');
    db = opened.db;
  });
  after(() => opened.close());

  it('gives every session from before it a distinct handle, and they still sign in', async () => {
    const upTo12 = await migrateTo(db, '0012_rate_limits_table');
    assert.equal(upTo12.error, undefined);
    // Columns as of 0012; the later ones have defaults.
    await db
      .insertInto('users')
      .values({
        id: 'usr_m13',
        email: 'm13@example.test',
        password_hash: 'x',
        name: null,
        is_admin: 0,
        created_at: 1,
        updated_at: 1,
      } as never)
      .execute();
    const hashes = [sha256('one'), sha256('two')];
    for (const id_hash of hashes) {
      await db
        .insertInto('browser_sessions')
        .values({ id_hash, user_id: 'usr_m13', created_at: 1, expires_at: LATE, authenticated_at: 1 } as never)
        .execute();
    }

    await migrateToLatest(db);

    const repo = createBrowserSessionsRepo(db);
    for (const id_hash of hashes) assert.equal((await repo.findUser(id_hash, 2))?.id, 'usr_m13');
    const listed = await repo.listOf('usr_m13', 2);
    assert.equal(listed.length, 2);
    const handles = listed.map((s) => s.public_id);
    assert.ok(
      handles.every((h) => typeof h === 'string' && /^ses_[0-9a-f]{32}$/.test(h)),
      String(handles),
    );
    assert.notEqual(handles[0], handles[1]);
    assert.deepEqual(
      listed.map((s) => [s.user_agent, s.ip, s.last_seen_at]),
      [
        [null, null, null],
        [null, null, null],
      ],
    );
  });
});
