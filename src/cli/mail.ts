import { parseArgs } from 'node:util';
import { UsageError } from './usage.ts';
import { withServices } from './with-services.ts';

/**
 * `latchkey mail test --to ADDRESS`: queues the test message and sends it at once from here, so the
 * operator sees at once whether EMAIL_URL works (and the mail server's own words when it does not).
 * It goes through the outbox like any mail: a refusal for now leaves it queued, and the running
 * servers' workers retry it.
 */
export async function mailTest(args: string[]): Promise<unknown> {
  const { values } = parseArgs({ args, options: { to: { type: 'string' } } });
  if (!values.to) throw new UsageError('mail test needs --to ADDRESS');
  const to = values.to;
  return withServices(async (services) => {
    const id = await services.mail.enqueue(to, 'test', { to });
    const attempted = await services.mailWorker.sendNow(id);
    const row = await services.mailOutbox.find(id);
    return {
      id,
      to,
      destination: services.mailDestination,
      status: row?.status ?? 'pending',
      attempts: row?.attempts ?? 0,
      ...(attempted ? {} : { note: 'a running server is sending it' }),
      ...(row?.last_error ? { error: row.last_error } : {}),
    };
  });
}
