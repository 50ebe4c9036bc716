import type { DB } from '../../db/client.ts';
import { ValidationError } from '../../domain/errors.ts';
import type { SecretBox } from '../../shared/encryption.ts';
import { newId } from '../../shared/secrets.ts';
import type { EmailOutboxRepo } from './outbox.repo.ts';
import type { EmailRenderer, EmailTemplate, EmailTemplates } from './templates.ts';

// One address, no display name or list: what a person types, checked loosely (the mail server has
// the last word), and never a header injection.
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

/**
 * Queues mail; the worker sends it. Nothing is sent inside a request: `enqueue` renders the
 * template and writes the sealed message to the outbox, inside the caller's transaction when one is
 * given, so a message exists exactly when the change that caused it does.
 */
export function createMailService(deps: {
  repo: EmailOutboxRepo;
  box: SecretBox;
  render: EmailRenderer;
  now(): number;
}) {
  return {
    /** Renders `template` for `to` and queues it; resolves with the outbox id. */
    async enqueue<T extends EmailTemplate>(
      to: string,
      template: T,
      data: EmailTemplates[T],
      trx?: DB,
    ): Promise<string> {
      if (to.length > 320 || !ADDRESS.test(to)) throw new ValidationError('Not an email address', 'to');
      // Rendered now, not when sent: a template error surfaces to the caller, and what is sent is
      // what was meant when it was queued, whatever is deployed by the time a retry goes out.
      const message = deps.render.render(template, data);
      const id = newId('eml', 24);
      await deps.repo.enqueue(
        { id, recipient: to, template, message_enc: deps.box.seal(JSON.stringify(message)), now: deps.now() },
        trx,
      );
      return id;
    },
  };
}
export type MailService = ReturnType<typeof createMailService>;
