import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A message the test SMTP server accepted, parsed, with the envelope it came in. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** Who signed in to send it (null: no AUTH). */
  user: string | null;
  parsed: ParsedMail;
  raw: string;
}

export interface TestSmtpServer {
  /** `smtp://user:pass@127.0.0.1:<port>`: what EMAIL_URL is set to. */
  url: string;
  received: ReceivedMail[];
  /** The next `times` messages are refused with this SMTP reply (e.g. 451 for "try later"). */
  refuse(code: number, message: string, times?: number): void;
  /** Resolves once `n` messages have arrived in all (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export const SMTP_USER = 'mailer';
export const SMTP_PASSWORD = 'smtp p@ss/word';

/**
 * A real SMTP server (the `smtp-server` package) on a loopback port in the test process: it asks for
 * the password, reads each message whole and parses it (mailparser), as a mail provider would.
 */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const refusals: Array<{ code: number; message: string }> = [];
  const waiters: Array<() => void> = [];
  const server = new SMTPServer({
    // Plain text on loopback; TLS is nodemailer's own business and tested upstream.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return callback(null, { user: SMTP_USER });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refusal = refusals.shift();
        if (refusal) return callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
        const raw = Buffer.concat(chunks).toString('utf8');
        void simpleParser(raw).then((parsed) => {
          received.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            user: (session.user as string | undefined) ?? null,
            parsed,
            raw,
          });
          for (const wake of waiters.splice(0)) wake();
          callback();
        }, callback);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${port}`,
    received,
    refuse(code, message, times = 1) {
      for (let i = 0; i < times; i++) refusals.push({ code, message });
    },
    async waitFor(n, ms = 5_000) {
      const deadline = Date.now() + ms;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} messages, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
