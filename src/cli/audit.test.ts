import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, type RunResult } from '../../test/support/process.ts';
import { cliDatabaseEnv, createTestDatabase, testBackend, type TestDatabase } from '../../test/support/database.ts';
import { loadConfig } from '../config.ts';

// `latchkey audit export` as an operator runs it: the trail on standard output, filtered, as JSON
// lines or CSV; the export itself is recorded, with the command line as its actor.
describe('latchkey audit export', () => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  const OWNER = 'auditor-cli@example.com';
  const cli = (args: string[], input?: string) => runCli(args, { env, ...(input === undefined ? {} : { input }) });
  const ok = (r: RunResult) => {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    assert.deepEqual(r.stderrLines, []);
    return r.stdout;
  };
  const jsonLines = (out: string) =>
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown> & { actor: Record<string, unknown> });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-cli-audit-'));
    database = await createTestDatabase(dir);
    env = cliDatabaseEnv(
      loadConfig({
        DATABASE_URL: database.url,
        ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
      }),
    );
    ok(await cli(['users', 'create', '--email', OWNER, '--password-stdin'], 'a long cli password\n'));
    ok(await cli(['keys', 'create', '--owner', OWNER, '--name', '=deploy', '--scopes', 'read:users']));
  });
  after(async () => {
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes JSON lines filtered by type and account, and records the export', async () => {
    const lines = jsonLines(ok(await cli(['audit', 'export', '--type', 'api_key.created', '--account', OWNER])));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!['type'], 'api_key.created');
    assert.equal(lines[0]!.actor['type'], 'cli');
    assert.equal((lines[0]!['data'] as Record<string, unknown>)['name'], '=deploy');

    const exports = jsonLines(ok(await cli(['audit', 'export', '--type', 'audit.exported'])));
    assert.ok(exports.length >= 1);
    assert.equal(exports[0]!.actor['type'], 'cli');
    const recorded = exports[exports.length - 1]!['data'] as Record<string, unknown>;
    assert.deepEqual(recorded, { format: 'jsonl', filter: { type: 'api_key.created', account: OWNER } });
  });

  it('writes CSV with a header row, and an empty range has the header alone', async () => {
    const csv = ok(await cli(['audit', 'export', '--format', 'csv', '--type', 'api_key.created'])).split('\r\n');
    assert.match(csv[0]!, /^id,created_at,type,actor_type,/);
    assert.match(csv[1]!, /,api_key\.created,cli,/);
    assert.ok(csv[1]!.includes('""name"":""=deploy""'), 'the name stays inside the JSON cell');
    const today = new Date().toISOString().slice(0, 10);
    const none = ok(await cli(['audit', 'export', '--format', 'csv', '--since', '2999-01-01']));
    assert.equal(none.trimEnd().split('\r\n').length, 1);
    const since = ok(await cli(['audit', 'export', '--since', today, '--until', today, '--type', 'api_key.created']));
    assert.equal(jsonLines(since).length, 1);
  });

  it('refuses an unknown format, a date it cannot read and an unknown account, in one line', async () => {
    for (const [args, pattern] of [
      [['--format', 'xml'], /--format must be jsonl or csv/],
      [['--since', 'yesterday'], /from/],
      [['--account', 'nobody@example.com'], /no account is nobody@example\.com/],
    ] as const) {
      const r = await cli(['audit', 'export', ...args]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderrLines.length, 1, r.stderr);
      assert.match(r.stderrLines[0]!, pattern);
      assert.equal(r.stdout, '');
    }
  });
});
