import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../test/support/process.ts';
import { cliDatabaseEnv, createTestDatabase, testBackend, type TestDatabase } from '../../test/support/database.ts';
import { startSmtpServer, type TestSmtpServer } from '../../test/support/smtp.ts';
import { loadConfig } from '../config.ts';

// `latchkey mail test` as an operator runs it: it queues the sample and sends it at once through
// EMAIL_URL, here a real SMTP server in the test process, and says what happened.
describe('latchkey mail test', () => {
  let dir: string;
  let database: TestDatabase;
  let smtp: TestSmtpServer;
  let env: Record<string, string>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-cli-mail-'));
    database = await createTestDatabase(dir);
    smtp = await startSmtpServer();
    env = {
      ...cliDatabaseEnv(
        loadConfig({
          DATABASE_URL: database.url,
          ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
        }),
      ),
      EMAIL_URL: smtp.url,
      EMAIL_FROM: 'Ops <ops@example.com>',
    };
  });
  after(async () => {
    await smtp.close();
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends the sample at once and prints its outcome, the password of EMAIL_URL masked', async () => {
    const r = await runCli(['mail', 'test', '--to', 'ops@example.org'], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out['status'], 'sent');
    assert.equal(out['to'], 'ops@example.org');
    assert.match(String(out['destination']), /^smtp:\/\/mailer:\*\*\*@127\.0\.0\.1:\d+/);
    assert.ok(!r.stdout.includes('p%40ss'), 'no password in the output');
    const [mail] = await smtp.waitFor(1);
    assert.equal(mail!.parsed.subject, 'Latchkey can send mail');
    assert.deepEqual(mail!.envelope.to, ['ops@example.org']);
  });

  it('says so when the mail server refuses it for now: it stays queued for the servers to retry', async () => {
    smtp.refuse(451, 'Try again later');
    const r = await runCli(['mail', 'test', '--to', 'later@example.org'], { env });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual([out['status'], out['attempts']], ['pending', 1]);
    assert.match(String(out['error']), /451 Try again later/);
  });

  it('refuses a missing or malformed address', async () => {
    const missing = await runCli(['mail', 'test'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^latchkey: mail test needs --to ADDRESS/);
    const bad = await runCli(['mail', 'test', '--to', 'not an address'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^latchkey: Not an email address/);
  });
});
