import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { migrateToLatest, openDatabase, type DB } from '../../src/db/client.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { createPayloadsRepo, type PayloadsRepo, type PayloadWrite } from '../../src/oidc/payloads.repo.ts';

/**
 * For a describe block of payloads tests: a migrated database of the backend under test (a real
 * SQLite file or PostgreSQL database), its payloads repository, and an empty table before each test.
 */
export function payloadsFixture(name: string): { readonly db: DB; readonly payloads: PayloadsRepo } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `latchkey-${name}-`));
  let database: TestDatabase | undefined;
  let db: DB | undefined;
  let payloads: PayloadsRepo | undefined;

  before(async () => {
    database = await createTestDatabase(dir);
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }));
    await migrateToLatest(db);
    payloads = createPayloadsRepo(db);
  });
  beforeEach(async () => {
    await db!.deleteFrom('oidc_payloads').execute();
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get db() {
      return db!;
    },
    get payloads() {
      return payloads!;
    },
  };
}

/** Token number `i` of a model as the adapter would save it (a client's, no grant, no account). */
export const tokenRow = (type: string, i: number, extra: Partial<PayloadWrite> = {}): PayloadWrite => ({
  type,
  idHash: `id-${i}`,
  payload: JSON.stringify({ kind: type, n: i }),
  grantIdHash: null,
  clientId: 'app_1',
  uidHash: null,
  userCodeHash: null,
  expiresAt: 1_700_000_000_000 + i,
  accountId: null,
  ...extra,
});
