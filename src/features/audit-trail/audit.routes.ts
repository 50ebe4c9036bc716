import { auditEntryJson, auditListQuerySchema, auditPageSchema } from '../../wire/audit.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import type { AuditTrailService } from './audit-trail.service.ts';

/** /v2/admin/audit: the whole trail for operators' tools (admin:all), filtered and paged by keyset. */
export function auditRoutes(auditTrail: AuditTrailService): RouteSpec[] {
  return [
    defineRoute({
      method: 'get',
      path: '/admin/audit',
      operationId: 'listAuditEvents',
      summary:
        'List audit events, newest first (admin:all). Filters: actor (an actor type, or an account email or id), ' +
        'account (whose trail), type, from / to (dates or instants, both included); pass next_before as before',
      tag: 'Audit',
      auth: { scopes: ['admin:all'] },
      query: auditListQuerySchema,
      status: 200,
      response: auditPageSchema,
      handler: async ({ query }) => {
        const { limit, before, ...filter } = query;
        const page = await auditTrail.list(filter, { limit, ...(before ? { before } : {}) });
        return { data: page.entries.map((e) => auditEntryJson(e)), next_before: page.nextBefore };
      },
    }),
  ];
}
