import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import type { DB } from '../../db/client.ts';
import type { SecretBox } from '../../shared/encryption.ts';
import { createMailService } from './mail.service.ts';
import { createEmailOutboxRepo } from './outbox.repo.ts';
import { createEmailRenderer } from './templates.ts';
import { createFileTransport, createSmtpTransport, maskedUrl } from './transport.ts';
import { createEmailWorker } from './worker.ts';

/** The mail service and its worker, on the transport the configuration names. */
export function createEmail(deps: {
  config: Config;
  db: DB;
  box: SecretBox;
  logger: Logger;
  now(): number;
  mailDir?: string;
}) {
  const { config, logger } = deps;
  const domain = new URL(config.ISSUER).hostname;
  const mailDir = deps.mailDir ?? path.join(path.dirname(config.secretsKeyFile), 'mail');
  const repo = createEmailOutboxRepo(deps.db);
  const render = createEmailRenderer({ issuer: config.ISSUER, cache: config.NODE_ENV === 'production' });
  const mail = createMailService({ repo, box: deps.box, render, now: deps.now });
  // Transports open no connection until the first message, so the CLI, which never sends, pays nothing.
  const transport = config.EMAIL_URL
    ? createSmtpTransport(config.EMAIL_URL, domain)
    : createFileTransport(mailDir, domain, logger);
  const worker = createEmailWorker({
    repo,
    box: deps.box,
    transport,
    from: config.EMAIL_FROM ?? `Latchkey <no-reply@${domain}>`,
    domain,
    now: deps.now,
    logger,
  });
  return {
    mail,
    worker,
    repo,
    /** Where mail goes, for the start-up log line: the SMTP URL masked, or the folder. */
    destination: config.EMAIL_URL ? maskedUrl(config.EMAIL_URL) : mailDir,
  };
}
export type Email = ReturnType<typeof createEmail>;

/** Said once at start: where mail goes, and a warning when production mail would only reach files. */
export function announceEmail(config: Config, email: Pick<Email, 'destination'>, logger: Logger): void {
  if (config.EMAIL_URL) {
    logger.info({ email_url: email.destination }, 'sending mail over SMTP');
  } else if (config.NODE_ENV === 'production') {
    logger.warn(
      { mail_dir: email.destination },
      'EMAIL_URL is not set: mail is only written to files, nobody receives it; set EMAIL_URL to send it',
    );
  } else {
    logger.info({ mail_dir: email.destination }, 'no EMAIL_URL: mail is written to files (development)');
  }
}
