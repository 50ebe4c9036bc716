import { Readable } from 'node:stream';
import Router from '@koa/router';
import { AUDIT_ACTOR_TYPES, AUDIT_TYPES, type AuditType } from '../../domain/audit.ts';
import { ValidationError } from '../../domain/errors.ts';
import type { AppContext, AppState } from '../../http/context.ts';
import type { Renderer } from '../../http/render.ts';
import { auditFilterQuerySchema, type AuditFilterQuery } from '../../wire/audit.ts';
import type { AuditTrailService } from '../audit-trail/audit-trail.service.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../audit-trail/export-format.ts';
import { describeActor, describeEvent } from '../audit-trail/sentences.ts';
import { cursorOf, displayIp } from '../audit-trail/view.ts';
import { when } from '../../shared/relative-time.ts';
import { provenanceOf } from '../../http/request-facts.ts';

/** Events on one page of the console's audit log. */
const PAGE_SIZE = 50;
const FILTER_FIELDS = ['actor', 'account', 'type', 'from', 'to'] as const;

/** The type select's groups: each starts at its first type (AUDIT_TYPES is ordered by group). */
const GROUPS: { label: string; first: AuditType }[] = [
  { label: 'Signing in and the account', first: 'sign_in.succeeded' },
  { label: 'Keys, applications, consents, webhooks', first: 'api_key.created' },
  { label: 'Operators', first: 'account.disabled' },
];
const TYPE_GROUPS = GROUPS.map((g, i) => ({
  label: g.label,
  types: AUDIT_TYPES.slice(
    AUDIT_TYPES.indexOf(g.first),
    i + 1 < GROUPS.length ? AUDIT_TYPES.indexOf(GROUPS[i + 1]!.first) : undefined,
  ),
}));

const MEDIA_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** The filter fields of the query string, as typed (empty fields dropped). */
function typedFilter(ctx: AppContext): Record<string, string> {
  const typed: Record<string, string> = {};
  for (const field of FILTER_FIELDS) {
    const value = ctx.query[field];
    if (typeof value === 'string' && value.trim()) typed[field] = value.trim();
  }
  return typed;
}

function parseFilter(typed: Record<string, string>): AuditFilterQuery {
  const parsed = auditFilterQuerySchema.safeParse(typed);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? 'filter');
  const message =
    field === 'type'
      ? 'Choose an event type from the list.'
      : field === 'from' || field === 'to'
        ? 'Give a date as YYYY-MM-DD.'
        : issue.message;
  throw new ValidationError(message, field);
}

/**
 * `/admin/audit`: every event of the trail, for admins and auditors. Filters (who acted, whose
 * trail, the type, a date range) narrow it; pages go back in time by keyset; the export streams the
 * current filter whole, as JSON lines or CSV, and is itself recorded.
 */
export function auditPagesRouter(deps: {
  render: Renderer;
  auditTrail: Pick<AuditTrailService, 'list' | 'export'>;
  now(): number;
}): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/admin/audit' });

  router.get('/', async (ctx) => {
    const typed = typedFilter(ctx);
    const before = cursorOf(ctx.query['before']);
    const view = { title: 'Audit log', adminSection: 'audit', wide: true, typed, TYPE_GROUPS, AUDIT_ACTOR_TYPES };
    let page: Awaited<ReturnType<AuditTrailService['list']>>;
    try {
      page = await deps.auditTrail.list(parseFilter(typed), { before, limit: PAGE_SIZE });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      const fieldError = { field: err.field ?? 'filter', message: err.message };
      return deps.render.page(ctx, 'admin/audit', { ...view, fieldError, events: [], links: {} }, 400);
    }
    const query = (extra: Record<string, string>) => new URLSearchParams({ ...typed, ...extra }).toString();
    const now = deps.now();
    deps.render.page(ctx, 'admin/audit', {
      ...view,
      fieldError: null,
      events: page.entries.map((e) => ({
        seq: e.seq,
        type: e.type,
        what: describeEvent(e),
        actor: describeActor(e.actor),
        actorId: e.actor.id,
        target: e.target ? `${e.target.type} ${e.target.id}` : null,
        accountId: e.accountId,
        ip: displayIp(e.ip),
        requestId: e.requestId,
        at: when(e.createdAt, now),
      })),
      links: {
        newest: before !== undefined ? `/admin/audit?${query({})}` : null,
        older: page.nextBefore ? `/admin/audit?${query({ before: String(page.nextBefore) })}` : null,
        jsonl: `/admin/audit/export?${query({ format: 'jsonl' })}`,
        csv: `/admin/audit/export?${query({ format: 'csv' })}`,
      },
    });
  });

  router.get('/export', async (ctx) => {
    const format = ctx.query['format'];
    if (typeof format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(format))
      throw new ValidationError('format must be jsonl or csv', 'format');
    const chosen = format as ExportFormat;
    const chunks = await deps.auditTrail.export(parseFilter(typedFilter(ctx)), chosen, provenanceOf(ctx));
    const day = new Date(deps.now()).toISOString().slice(0, 10);
    ctx.set('Content-Disposition', `attachment; filename="latchkey-audit-${day}.${chosen}"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.type = MEDIA_TYPES[chosen];
    ctx.body = Readable.from(chunks);
  });

  return router;
}
