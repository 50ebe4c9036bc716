import assert from 'node:assert/strict';
import type { ReceivedMail, TestSmtpServer } from './smtp.ts';
import type { TestServer } from './server.ts';

/**
 * Reading what a test server mailed through the real SMTP server: the outbox is sent on demand
 * (start the server with a long `emailPollMs`), then the mail to one address is looked up.
 */
export function mailboxOf(server: TestServer, smtp: TestSmtpServer) {
  const sent = async () => {
    // "Forgot password?" queues its mail after answering: wait for that first.
    await server.built.services.passwordReset.idle();
    await server.built.services.mailWorker.tick();
    return smtp.received;
  };
  return {
    /** How many messages arrived so far (a mark to read from). */
    mark: () => smtp.received.length,
    /** The messages to `to` since `from`, after sending what is queued. */
    async to(to: string, from = 0): Promise<ReceivedMail[]> {
      return (await sent()).slice(from).filter((m) => m.envelope.to.includes(to));
    },
    /** The one message to `to` with this subject since `from`. */
    async one(to: string, subject: string, from = 0): Promise<ReceivedMail> {
      const found = (await sent())
        .slice(from)
        .filter((m) => m.envelope.to.includes(to) && m.parsed.subject === subject);
      assert.equal(found.length, 1, `one "${subject}" to ${to}; got ${smtp.received.map((m) => m.parsed.subject)}`);
      return found[0]!;
    },
  };
}

/** The path and query of the first link to `path` in a message's text part (`/verify-email?token=...`). */
export function linkIn(mail: ReceivedMail, path: string): string {
  const m = new RegExp(`https?://[^\\s/]+(${path.replace(/[/?]/g, '\\$&')}\\?[^\\s]+)`).exec(mail.parsed.text ?? '');
  assert.ok(m, `no ${path} link in: ${mail.parsed.text}`);
  return m[1]!;
}

/** The token of such a link. */
export const tokenOf = (link: string) => new URL(link, 'http://x').searchParams.get('token')!;
