import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { databaseTargetOf } from '../../src/config.ts';
import { openDatabase, type DB } from '../../src/db/client.ts';

/**
 * Which database the integration suite runs on: SQLite (a file in the test's temp folder) unless
 * TEST_DATABASE=postgres, then a fresh PostgreSQL database per test server, created through
 * TEST_POSTGRES_URL (a role allowed to CREATE DATABASE) and dropped afterwards.
 */
export const testBackend = process.env['TEST_DATABASE'] === 'postgres' ? 'postgres' : 'sqlite';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = process.env['TEST_POSTGRES_URL'];
  if (!url)
    throw new Error(
      'TEST_DATABASE=postgres needs TEST_POSTGRES_URL (e.g. postgres://user:pass@127.0.0.1:5432/postgres)',
    );
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * DROP DATABASE ... WITH (FORCE) ends the test's own leftover connections, but it refuses (42501,
 * "must be a member of the role whose process is being terminated") while an autovacuum worker is
 * in the database, and a plain DROP refuses (55006) while any session is: both pass within moments.
 */
async function dropDatabase(name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code !== '42501' && code !== '55006') || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export async function createTestDatabase(dir: string): Promise<TestDatabase> {
  if (testBackend === 'sqlite') {
    return { url: `sqlite:${path.join(dir, 'latchkey.sqlite')}`, drop: async () => {} };
  }
  const name = `latchkey_test_${crypto.randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(process.env['TEST_POSTGRES_URL']!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => dropDatabase(name),
  };
}

/**
 * A new database of the backend under test, opened but not migrated: for the tests that migrate it
 * step by step and check what a migration does to the rows it finds. `close` destroys the pool and
 * drops the database.
 */
export async function openUnmigratedDatabase(prefix: string): Promise<{ db: DB; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const database = await createTestDatabase(dir);
  const db = openDatabase({ database: databaseTargetOf(database.url) });
  return {
    db,
    async close() {
      await db.destroy();
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The settings a spawned `latchkey` CLI needs to work on a test server's database: its DATABASE_URL
 * and, when the server was given one (always on PostgreSQL), its SECRETS_KEY, so both open the same
 * sealed secrets. On SQLite without SECRETS_KEY the CLI finds the key file beside the database.
 */
export function cliDatabaseEnv(config: {
  DATABASE_URL: string;
  SECRETS_KEY?: Buffer | undefined;
}): Record<string, string> {
  return {
    DATABASE_URL: config.DATABASE_URL,
    ...(config.SECRETS_KEY ? { SECRETS_KEY: config.SECRETS_KEY.toString('base64') } : {}),
  };
}
