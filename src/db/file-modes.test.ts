import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { Browser, signUp } from '../../test/support/http.ts';
import { uniqueEmail, PASSWORD } from '../../test/support/world.ts';

// The SQLite files hold password hashes, token digests and sealed secrets: another local account
// must not read them. The files are SQLite's whatever the suite's backend, so this runs on both.
const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('SQLite files are private to the server account', () => {
  let root: string;
  let server: TestServer;
  let dbDir: string;
  let dbFile: string;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-modes-'));
    dbDir = path.join(root, 'state', 'db');
    dbFile = path.join(dbDir, 'latchkey.sqlite');
    // A permissive umask, as a service manager may leave it: the modes must not depend on it.
    const previous = process.umask(0o002);
    try {
      server = await startTestServer({ dir: root, env: { DATABASE_URL: `sqlite:${dbFile}` } });
    } finally {
      process.umask(previous);
    }
    // A write, so the WAL and its index exist.
    await signUp(new Browser(server.url), uniqueEmail('modes'), PASSWORD);
  });
  after(() => server.dispose());

  it('creates the database folder 0700', () => {
    assert.equal(mode(dbDir).toString(8), '700');
  });

  it('creates the database, -wal and -shm files 0600', () => {
    for (const file of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) {
      assert.ok(fs.existsSync(file), `${path.basename(file)} exists`);
      assert.equal(mode(file).toString(8), '600', path.basename(file));
    }
  });
});
