import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config.ts';
import { migrateToLatest, openDatabase, type DB } from '../db/client.ts';
import { createLogger } from '../logger.ts';
import { createCredentialEvents, type CredentialEvent } from './credential-events.ts';
import { createCredentialEventsRepo } from './credential-events.repo.ts';
import { startCredentialRelay, type CredentialRelay } from './credential-relay.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Two relays on one real database (the test backend's), as two instances would run them.
describe('credential relay', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-relay-unit-'));
  let database: TestDatabase;
  let db: DB;
  const relays: CredentialRelay[] = [];

  before(async () => {
    database = await createTestDatabase(dir);
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }));
    await migrateToLatest(db);
  });
  after(async () => {
    for (const r of relays) await r.stop();
    await db.destroy();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function instance() {
    const events = createCredentialEvents();
    const heard: CredentialEvent[] = [];
    events.subscribe((e) => heard.push(e));
    relays.push(
      await startCredentialRelay({
        repo: createCredentialEventsRepo(db),
        events,
        pollMs: 50,
        listenUrl: null,
        logger: createLogger('silent'),
      }),
    );
    return { events, heard };
  }

  it('hands what one publishes to the other, once, and not back to the publisher', async () => {
    const a = await instance();
    const b = await instance();
    a.events.publish({ kind: 'api_key', id: 'key_1' });
    a.events.publish({ kind: 'tokens' });
    await sleep(300);
    assert.deepEqual(b.heard, [{ kind: 'api_key', id: 'key_1' }, { kind: 'tokens' }]);
    assert.deepEqual(
      a.heard,
      [{ kind: 'api_key', id: 'key_1' }, { kind: 'tokens' }],
      'the publisher applied its own events once, at once',
    );
  });

  it('applies a row that commits after a higher id was already read (ids are handed out before commit)', async () => {
    const b = await instance();
    const last = await createCredentialEventsRepo(db).lastId();
    const row = (id: number, subject: string) => ({
      id,
      origin: 'elsewhere',
      kind: 'account',
      subject,
      created_at: Date.now(),
    });
    await db
      .insertInto('credential_events')
      .values(row(last + 2, 'usr_late_second'))
      .execute();
    await sleep(200);
    await db
      .insertInto('credential_events')
      .values(row(last + 1, 'usr_late_first'))
      .execute();
    await sleep(200);
    assert.deepEqual(b.heard, [
      { kind: 'account', id: 'usr_late_second' },
      { kind: 'account', id: 'usr_late_first' },
    ]);
  });
});
