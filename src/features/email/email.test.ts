import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { SMTP_USER, startSmtpServer, type TestSmtpServer } from '../../../test/support/smtp.ts';
import { EMAIL_RETRY_SCHEDULE_MS } from './worker.ts';

// Mail end to end: the real server queues mail in its outbox, its worker sends it over SMTP to a
// real SMTP server in this process (smtp-server), which reads and parses what arrived. Time is the
// injected clock; the background poll is kept out of the way (emailPollMs: 1 h) and tests tick.

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

describe('email delivery over SMTP', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let clock = T0;

  before(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({
      env: { EMAIL_URL: smtp.url, EMAIL_FROM: 'Latchkey Test <mailer@example.com>' },
      now: () => clock,
      emailPollMs: HOUR,
    });
  });
  after(async () => {
    await server.dispose();
    await smtp.close();
  });

  const services = () => server.built.services;
  const tick = () => services().mailWorker.tick();
  const row = async (id: string) => (await services().mailOutbox.find(id))!;

  it('sends a queued message with its From, To, subject, text and HTML, then deletes its content', async () => {
    const before = smtp.received.length;
    const id = await services().mail.enqueue('zoë@example.org', 'test', { to: 'zoë@example.org' });
    assert.equal(smtp.received.length, before, 'nothing is sent while enqueueing');
    assert.equal((await row(id)).status, 'pending');
    assert.equal(await tick(), 1);
    const [mail] = smtp.received.slice(before);
    assert.ok(mail);
    assert.equal(mail.user, SMTP_USER, 'signed in with the user and password of EMAIL_URL');
    assert.deepEqual(mail.envelope, { from: 'mailer@example.com', to: ['zoë@example.org'] });
    assert.deepEqual(mail.parsed.from?.value, [{ name: 'Latchkey Test', address: 'mailer@example.com' }]);
    assert.equal((mail.parsed.to as { text: string }).text, 'zoë@example.org');
    assert.equal(mail.parsed.subject, 'Latchkey can send mail');
    assert.match(mail.parsed.text ?? '', /mail from this server reaches zoë@example\.org/);
    assert.match(mail.parsed.text ?? '', new RegExp(`Sign in: ${server.config.ISSUER}/login`));
    assert.match(String(mail.parsed.html), /<strong>zoë@example\.org<\/strong>/);
    assert.match(String(mail.parsed.html), new RegExp(`href="${server.config.ISSUER}/login"`));
    assert.equal(mail.parsed.messageId, `<${id}@127.0.0.1>`);
    const sent = await row(id);
    assert.equal(sent.status, 'sent');
    assert.equal(sent.sent_at, clock);
    assert.equal(sent.attempts, 1);
    assert.equal(sent.message_enc, null, 'the message (and any link in it) is gone once sent');
  });

  it('escapes data in the HTML part', async () => {
    const before = smtp.received.length;
    const to = '<b>x</b>@example.org';
    await assert.rejects(services().mail.enqueue(to, 'test', { to }), /Not an email address/);
    const id = await services().mail.enqueue('amp&co@example.org', 'test', { to: 'amp&co@example.org' });
    await tick();
    const mail = smtp.received[before]!;
    assert.match(String(mail.parsed.html), /<strong>amp&amp;co@example\.org<\/strong>/);
    assert.match(mail.parsed.text ?? '', /reaches amp&co@example\.org\./, 'the text part is not markup');
    assert.equal((await row(id)).status, 'sent');
  });

  it('keeps the message sealed in the outbox until it is sent', async () => {
    const id = await services().mail.enqueue('sealed@example.org', 'test', { to: 'sealed@example.org' });
    const stored = await row(id);
    assert.ok(stored.message_enc);
    assert.doesNotMatch(stored.message_enc, /Latchkey can send mail|sealed@example|login/);
    await tick();
  });

  it('retries a temporary refusal (4xx) later, then delivers it', async () => {
    const before = smtp.received.length;
    smtp.refuse(451, 'Greylisted, try again later');
    const id = await services().mail.enqueue('later@example.org', 'test', { to: 'later@example.org' });
    await tick();
    const refused = await row(id);
    assert.equal(refused.status, 'pending');
    assert.equal(refused.attempts, 1);
    assert.match(refused.last_error ?? '', /451.*Greylisted/);
    assert.equal(refused.next_attempt_at, clock + EMAIL_RETRY_SCHEDULE_MS[0]!);
    assert.ok(refused.message_enc, 'kept for the retry');

    clock += EMAIL_RETRY_SCHEDULE_MS[0]! - 1;
    assert.equal(await tick(), 0, 'not before its time');
    clock += 1;
    assert.equal(await tick(), 1);
    assert.equal(smtp.received.length, before + 1);
    assert.equal(smtp.received[before]!.parsed.subject, 'Latchkey can send mail');
    const sent = await row(id);
    assert.deepEqual([sent.status, sent.attempts, sent.last_error, sent.message_enc], ['sent', 2, null, null]);
  });

  it('gives up at once on a permanent refusal (5xx) and records why', async () => {
    const before = smtp.received.length;
    smtp.refuse(550, 'No such mailbox');
    const id = await services().mail.enqueue('nobody@example.org', 'test', { to: 'nobody@example.org' });
    await tick();
    const failed = await row(id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.attempts, 1);
    assert.match(failed.last_error ?? '', /550.*No such mailbox/);
    assert.equal(failed.message_enc, null);
    clock += 10 * HOUR;
    assert.equal(await tick(), 0, 'never tried again');
    assert.equal(smtp.received.length, before);
  });

  it('gives up after the last scheduled retry when the refusals never stop', async () => {
    const before = smtp.received.length;
    const attempts = EMAIL_RETRY_SCHEDULE_MS.length + 1;
    smtp.refuse(421, 'Service not available', attempts);
    const id = await services().mail.enqueue('flaky@example.org', 'test', { to: 'flaky@example.org' });
    for (const [i, wait] of [0, ...EMAIL_RETRY_SCHEDULE_MS].entries()) {
      clock += wait;
      assert.equal(await tick(), 1, `attempt ${i + 1}`);
    }
    const failed = await row(id);
    assert.deepEqual([failed.status, failed.attempts, failed.message_enc], ['failed', attempts, null]);
    assert.match(failed.last_error ?? '', /421/);
    clock += 10 * HOUR;
    assert.equal(await tick(), 0);
    assert.equal(smtp.received.length, before);
  });
});

describe('email delivery with two server instances on one database', () => {
  let smtp: TestSmtpServer;
  let first: TestServer;
  let second: TestServer;

  before(async () => {
    smtp = await startSmtpServer();
    const env = { EMAIL_URL: smtp.url };
    first = await startTestServer({ env, emailPollMs: HOUR });
    second = await startTestServer({ env, emailPollMs: HOUR, database: first.database, dir: first.dir });
  });
  after(async () => {
    await second.close();
    await first.dispose();
    await smtp.close();
  });

  it('sends each message once, whichever instance claims it', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const to = `once${i}@example.org`;
      const via = i % 2 ? first : second;
      ids.push(await via.built.services.mail.enqueue(to, 'test', { to }));
    }
    const workers = [first, second].map((s) => s.built.services.mailWorker);
    await Promise.all([...workers.map((w) => w.drain()), ...workers.map((w) => w.drain())]);
    const received = await smtp.waitFor(12);
    const messageIds = received.map((m) => m.parsed.messageId);
    assert.equal(received.length, 12);
    assert.equal(new Set(messageIds).size, 12, 'no message twice');
    for (const id of ids) assert.equal((await first.built.services.mailOutbox.find(id))?.status, 'sent');
  });
});

describe('email without EMAIL_URL', () => {
  let server: TestServer;
  const lines: Array<Record<string, unknown>> = [];

  before(async () => {
    server = await startTestServer({
      env: { LOG_LEVEL: 'info' },
      emailPollMs: HOUR,
      logDestination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
  });
  after(() => server.dispose());

  it('writes each message as a readable .eml file only its owner may read, and logs its link', async () => {
    const services = server.built.services;
    const id = await services.mail.enqueue('dev@example.org', 'test', { to: 'dev@example.org' });
    await services.mailWorker.tick();
    const dir = services.mailDestination;
    assert.equal(path.basename(dir), 'mail');
    const [file] = fs.readdirSync(dir).filter((f) => f.endsWith(`${id}.eml`));
    assert.ok(file, `an .eml file for ${id} in ${dir}`);
    const full = path.join(dir, file);
    assert.equal(fs.statSync(full).mode & 0o777, 0o600);
    const parsed = await simpleParser(fs.readFileSync(full));
    assert.equal(parsed.subject, 'Latchkey can send mail');
    assert.equal((parsed.to as { text: string }).text, 'dev@example.org');
    assert.deepEqual(parsed.from?.value, [{ name: 'Latchkey', address: 'no-reply@127.0.0.1' }]);
    assert.match(parsed.text ?? '', /reaches dev@example\.org/);
    assert.match(String(parsed.html), /<strong>dev@example\.org<\/strong>/);
    const logged = lines.find((l) => l['file'] === full);
    assert.ok(logged, 'a log line names the file');
    assert.equal(logged['subject'], 'Latchkey can send mail');
    assert.equal(logged['link'], `${server.config.ISSUER}/login`);
    assert.equal((await services.mailOutbox.find(id))?.status, 'sent');
  });

  it('does not warn in development', () => {
    assert.equal(lines.filter((l) => l['level'] === 40 && /EMAIL_URL/.test(String(l['msg']))).length, 0);
  });
});

describe('starting in production', () => {
  const startLines = async (env: Record<string, string>) => {
    const lines: Array<Record<string, unknown>> = [];
    const server = await startTestServer({
      env: { NODE_ENV: 'production', LOG_LEVEL: 'info', ...env },
      emailPollMs: HOUR,
      logDestination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    await server.dispose();
    return lines;
  };

  it('warns when EMAIL_URL is not set (mail would only reach files)', async () => {
    const lines = await startLines({});
    const warning = lines.find((l) => l['level'] === 40 && /EMAIL_URL is not set/.test(String(l['msg'])));
    assert.ok(warning, 'a warning at start');
  });

  it('does not warn with EMAIL_URL, and logs it with the password masked', async () => {
    const lines = await startLines({ EMAIL_URL: 'smtps://mailer:hunter2-secret@mail.example.com:465' });
    assert.equal(lines.filter((l) => l['level'] === 40 && /EMAIL_URL/.test(String(l['msg']))).length, 0);
    const said = lines.find((l) => l['msg'] === 'sending mail over SMTP');
    assert.equal(said?.['email_url'], 'smtps://mailer:***@mail.example.com:465');
    assert.ok(!JSON.stringify(lines).includes('hunter2-secret'), 'the password is never logged');
  });
});
