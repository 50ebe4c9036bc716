import { AUDIT_ACTOR_TYPES, type AuditActorType, type AuditEntry, type Provenance } from '../../domain/audit.ts';
import { ValidationError } from '../../domain/errors.ts';
import type { AuditFilterQuery } from '../../wire/audit.ts';
import type { AuditFilter, AuditRepo } from '../audit/audit.repo.ts';
import type { Audit } from '../audit/audit.ts';
import { exportHeader, exportLine, type ExportFormat } from './export-format.ts';

const DAY_MS = 86_400_000;
/** Rows an export reads at a time: a few hundred kilobytes in memory, whatever the trail's size. */
const EXPORT_PAGE = 500;

export interface AuditTrailDeps {
  log: AuditRepo;
  audit: Audit;
  /** The id of the account an email (or an id) names; null when there is none. */
  accountIdOf(emailOrId: string): Promise<string | null>;
  retentionDays: number;
  now(): number;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** The cursor of the next, older page; null on the last page. */
  nextBefore: number | null;
}

/** `from` / `to` as epoch ms: a date is its whole UTC day, both ends included. */
function startOf(value: string): number {
  return Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
}
function endOf(value: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? startOf(value) + DAY_MS : Date.parse(value) + 1;
}

const isActorType = (value: string): value is AuditActorType =>
  (AUDIT_ACTOR_TYPES as readonly string[]).includes(value);

/**
 * Reading the audit trail: a person's own (Settings → Activity), everyone's (the console, the API,
 * the export), and retention. Writing it is each service's business (see audit/audit.ts).
 */
export function createAuditTrailService(deps: AuditTrailDeps) {
  const { log } = deps;

  /** Turns the filters people type (emails, dates) into the repository's filter. */
  async function resolve(query: AuditFilterQuery): Promise<AuditFilter> {
    const filter: AuditFilter = {};
    if (query.actor) {
      if (isActorType(query.actor)) filter.actorType = query.actor;
      else filter.actorAccountId = await accountOrRefuse(query.actor, 'actor');
    }
    if (query.account) filter.accountId = await accountOrRefuse(query.account, 'account');
    if (query.type) filter.types = [query.type];
    if (query.from) filter.from = startOf(query.from);
    if (query.to) filter.to = endOf(query.to);
    if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to)
      throw new ValidationError('"from" must be before "to"', 'from');
    return filter;
  }

  async function accountOrRefuse(emailOrId: string, field: string): Promise<string> {
    const id = await deps.accountIdOf(emailOrId);
    if (!id) throw new ValidationError(`no account is ${emailOrId}`, field);
    return id;
  }

  async function page(filter: AuditFilter, at: { before?: number; limit: number }): Promise<AuditPage> {
    const rows = await log.list(filter, { ...(at.before ? { before: at.before } : {}), limit: at.limit + 1 });
    const entries = rows.slice(0, at.limit);
    return { entries, nextBefore: rows.length > at.limit ? entries[entries.length - 1]!.seq : null };
  }

  /** Every entry the filter matches, newest first, read a page at a time (keyset, never OFFSET). */
  async function* everyEntry(filter: AuditFilter): AsyncGenerator<AuditEntry> {
    let before: number | undefined;
    for (;;) {
      const rows = await log.list(filter, { ...(before ? { before } : {}), limit: EXPORT_PAGE });
      yield* rows;
      if (rows.length < EXPORT_PAGE) return;
      before = rows[rows.length - 1]!.seq;
    }
  }

  return {
    resolve,

    /** One person's trail: what happened to their account and what they did, newest first. */
    ofAccount(accountId: string, at: { before?: number; limit: number }): Promise<AuditPage> {
      return page({ involving: accountId }, at);
    },

    /** Everyone's trail, filtered (the console, the API). */
    async list(query: AuditFilterQuery, at: { before?: number; limit: number }): Promise<AuditPage> {
      return page(await resolve(query), at);
    },

    /**
     * An export of the filtered trail as text chunks (a header, then one line per event). Exporting
     * is itself recorded first (`audit.exported`, with the format and the filters), so that even an
     * export abandoned half-way leaves a trace.
     */
    async export(query: AuditFilterQuery, format: ExportFormat, by: Provenance): Promise<AsyncIterable<string>> {
      const filter = await resolve(query);
      const data = { format, filter: query };
      await log.append([deps.audit.event('audit.exported', { account: null, data }, by)]);
      async function* chunks(): AsyncGenerator<string> {
        const header = exportHeader(format);
        if (header) yield header;
        for await (const entry of everyEntry(filter)) yield exportLine(format, entry);
      }
      return chunks();
    },

    /** Deletes the events older than AUDIT_RETENTION_DAYS (housekeeping runs it). */
    pruneExpired(): Promise<number> {
      return log.prune(deps.now() - deps.retentionDays * DAY_MS);
    },
  };
}
export type AuditTrailService = ReturnType<typeof createAuditTrailService>;
