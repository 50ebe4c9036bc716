import fs from 'node:fs';
import path from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { firstLink } from './templates.ts';

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The outbox id, sent as the Message-ID's local part: a retried message keeps its id. */
  id: string;
}

export type SendOutcome = { ok: true } | { ok: false; error: string; permanent: boolean };

export interface EmailTransport {
  send(message: OutgoingEmail): Promise<SendOutcome>;
  close(): void;
}

/** An SMTP refusal in the 5xx range will not change on a retry; 4xx and network errors may. */
function failure(err: unknown): SendOutcome {
  const code = (err as { responseCode?: unknown }).responseCode;
  const permanent = typeof code === 'number' && code >= 500 && code < 600;
  return { ok: false, error: err instanceof Error ? err.message : String(err), permanent };
}

function mailOf(message: OutgoingEmail, domain: string) {
  return {
    from: message.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    html: message.html,
    messageId: `<${message.id}@${domain}>`,
  };
}

/**
 * Nodemailer is loaded with the first message, not at start: the CLI commands that send nothing,
 * and servers with an empty outbox, never load it.
 */
function lazyTransporter(options: object) {
  let made: Promise<Transporter> | undefined;
  let transporter: Transporter | undefined;
  return {
    get: () =>
      (made ??= import('nodemailer').then((m) => {
        transporter = m.default.createTransport(options);
        return transporter;
      })),
    close: () => transporter?.close(),
  };
}

/** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://` (TLS from the start). */
export function createSmtpTransport(url: string, domain: string): EmailTransport {
  const smtp = lazyTransporter({
    url,
    // A server that does not answer must not hold a sender's claim for long.
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(message) {
      try {
        await (await smtp.get()).sendMail(mailOf(message, domain));
        return { ok: true };
      } catch (err) {
        return failure(err);
      }
    },
    close: smtp.close,
  };
}

/**
 * Development default, without EMAIL_URL: each message is written as `<dir>/<time>-<id>.eml` (only
 * its owner may read it: messages carry sign-in links) and logged with its subject and first link.
 */
export function createFileTransport(dir: string, domain: string, logger: Logger): EmailTransport {
  const writer = lazyTransporter({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(message) {
      try {
        const info = await (await writer.get()).sendMail(mailOf(message, domain));
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        const file = path.join(dir, `${stamp}-${message.id}.eml`);
        fs.writeFileSync(file, info.message as Buffer, { mode: 0o600, flag: 'wx' });
        logger.info(
          { file, to: message.to, subject: message.subject, link: firstLink(message.text) },
          'email written to a file (set EMAIL_URL to send it)',
        );
        return { ok: true };
      } catch (err) {
        return failure(err);
      }
    },
    close: writer.close,
  };
}

/** EMAIL_URL with its password masked, for logs and anything that shows the configuration. */
export function maskedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '***';
  }
}
