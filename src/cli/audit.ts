import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { EXPORT_FORMATS, type ExportFormat } from '../features/audit-trail/export-format.ts';
import { auditFilterQuerySchema } from '../wire/audit.ts';
import { parseWire } from '../wire/parse.ts';
import { UsageError } from './usage.ts';
import { withServices } from './with-services.ts';
import { BY_CLI } from '../features/audit/audit.ts';

/**
 * `latchkey audit export`: the audit trail (filtered) on standard output, as JSON lines or CSV,
 * streamed a page at a time. The export is recorded in the trail, with the CLI as its actor.
 */
export async function exportAudit(args: string[]): Promise<undefined> {
  const { values } = parseArgs({
    args,
    options: {
      format: { type: 'string', default: 'jsonl' },
      since: { type: 'string' },
      until: { type: 'string' },
      type: { type: 'string' },
      account: { type: 'string' },
    },
  });
  const format = values.format;
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be ${EXPORT_FORMATS.join(' or ')}`);
  const query = parseWire(auditFilterQuerySchema, {
    ...(values.since ? { from: values.since } : {}),
    ...(values.until ? { to: values.until } : {}),
    ...(values.type ? { type: values.type } : {}),
    ...(values.account ? { account: values.account } : {}),
  });
  await withServices(async ({ auditTrail }) => {
    for await (const chunk of await auditTrail.export(query, format as ExportFormat, BY_CLI)) {
      // Waits for a slow reader (a pipe into gzip): the export never piles up in memory.
      if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    }
  });
  return undefined;
}
