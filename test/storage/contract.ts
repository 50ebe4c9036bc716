import assert from 'node:assert/strict';
import { ValidationError } from '../../src/domain/errors.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import type pg from 'pg';
import { databaseTargetOf } from '../../src/config.ts';
import { createPostgresPool, migrateToLatest, openDatabase, type DB } from '../../src/db/client.ts';
import { createTestDatabase, testBackend, type TestDatabase } from '../support/database.ts';

/**
 * Storage contract suites: one function per repository that takes the storage and asserts the
 * repository's whole contract through its exported interface (no HTTP, no services), run on the
 * backend the test run selects. The same test code runs on a SQLite file in the SQLite pass and on a
 * fresh PostgreSQL database in the PostgreSQL tier, so what one backend does the other must too.
 */
export interface Storage {
  /** A freshly migrated database, private to the suite (open before the first test runs). */
  readonly db: DB;
  readonly backend: 'sqlite' | 'postgres';
  /** A pg pool on the suite's database (PostgreSQL only): for stores that take a pool, not Kysely. */
  readonly pool: pg.Pool;
}

/**
 * Declares a suite that opens a fresh real database (a SQLite file in a temporary folder, or a new
 * PostgreSQL database through TEST_POSTGRES_URL), migrates it, hands it to `contract`, and drops it
 * afterwards. Tests within a suite share the database and run one after another: each makes its own
 * rows (fresh ids), so none depends on another's leftovers.
 *
 * Concurrent calls (`Promise.all`) race for real on PostgreSQL (a pool of connections, as several
 * instances would); on SQLite they queue on the one connection, as within one server process, so
 * there the same tests hold the repository to the same answers one call after another.
 */
export function describeStorage(title: string, contract: (storage: Storage) => void): void {
  describe(`${title} (${testBackend})`, () => {
    let dir: string | undefined;
    let database: TestDatabase | undefined;
    let db: DB | undefined;
    let pool: pg.Pool | undefined;

    const storage: Storage = {
      get db() {
        if (!db) throw new Error('the storage is opened before the first test');
        return db;
      },
      backend: testBackend,
      get pool() {
        if (!database || testBackend !== 'postgres') throw new Error('a pg pool exists on PostgreSQL only');
        pool ??= createPostgresPool(database.url, 4);
        return pool;
      },
    };

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-storage-'));
      database = await createTestDatabase(dir);
      db = openDatabase({ database: databaseTargetOf(database.url) });
      await migrateToLatest(db);
    });
    after(async () => {
      await pool?.end();
      await db?.destroy();
      await database?.drop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    contract(storage);
  });
}

/** Epoch milliseconds (2026) far past 2^32: what a 32-bit `integer` column could not hold. */
export const LATE = 1_767_225_600_123;

/** Text that tends to break storage: multi-byte characters, an emoji (a surrogate pair), quotes. */
export const AWKWARD = "Zoë “quoted” 'single' 日本語 🧪🔑 \\ back\\slash % _ wild";

/** A long string (64 KiB of text with a multi-byte character in it). */
export const LONG = `${'x'.repeat(65_530)}é🔑`;

let sequence = 0;
/** A fresh id for test rows, unique within the process: tests sharing a suite's database never collide. */
export const freshId = (prefix: string): string =>
  `${prefix}_${Date.now().toString(36)}${(sequence++).toString(36).padStart(4, '0')}`;

/**
 * The repository refuses a string carrying NUL (U+0000) on every backend as a validation failure
 * (PostgreSQL cannot store it at all, SQLite would), before anything reaches SQL.
 */
export async function assertRefusesNul(work: Promise<unknown>): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected a NUL refusal, got ${String(err)}`);
    return true;
  });
}

/**
 * A uniqueness violation, as the services recognise it on both backends (SQLite: "UNIQUE
 * constraint failed", PostgreSQL: "duplicate key value violates unique constraint").
 */
export async function assertUniqueViolation(work: Promise<unknown>): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.match(String((err as Error).message), /UNIQUE|duplicate key/i);
    return true;
  });
}

/** A foreign key refused the row (its parent does not exist), on both backends. */
export async function assertForeignKeyViolation(work: Promise<unknown>): Promise<void> {
  await assert.rejects(work, (err: unknown) => {
    assert.match(String((err as Error).message), /FOREIGN KEY|foreign key/);
    return true;
  });
}
