import { Forbidden, NotFound } from '../../domain/errors.ts';
import type { ApplicationType } from '../../domain/applications.ts';
import type { Principal } from '../../domain/principal.ts';
import type { CredentialEvents } from '../../shared/credential-events.ts';
import { decodeCursor, encodeCursor } from '../../shared/keyset-cursor.ts';
import type { AdminApplication, AdminApplicationPage, AdminApplicationsQuery } from '../../wire/admin-resources.ts';
import type { Audit } from '../audit/audit.ts';
import type { Provenance } from '../../domain/audit.ts';
import type { ApplicationsRepo, ApplicationWithOwner } from './applications.repo.ts';

const iso = (t: number | string | null) => (t === null ? null : new Date(Number(t)).toISOString());

const toAdminView = (row: ApplicationWithOwner): AdminApplication => ({
  client_id: row.client_id,
  name: row.name,
  type: row.type as ApplicationType,
  owner: { id: row.owner_id, email: row.owner_email },
  created_at: iso(row.created_at)!,
  suspended_at: iso(row.suspended_at),
});

/**
 * What operators do with every application: list and search them all, suspend one and bring it
 * back. A suspended application is refused everywhere at once (see isRefused in
 * applications.service.ts; the credential event makes every instance's cache forget it). Its grants
 * and tokens are kept, not deleted: suspension is the reversible step, taken while someone looks
 * into an application, so unsuspending restores what its users had consented to; deleting the
 * application (its owner) or rejecting it (a self-registered one) is the step that revokes them.
 */
export function createApplicationSuspension(deps: {
  repo: ApplicationsRepo;
  audit: Audit;
  events: CredentialEvents;
  now(): number;
}) {
  const { repo, audit, events, now } = deps;

  function requireAdmin(caller: Principal): void {
    if (!caller.isAdmin) throw new Forbidden('Only an administrator manages every application');
  }

  async function found(clientId: string): Promise<ApplicationWithOwner> {
    const [row] = await repo.listAll({ search: undefined, clientId, limit: 1 });
    if (!row) throw new NotFound('Application');
    return row;
  }

  async function setSuspended(
    caller: Principal,
    clientId: string,
    suspend: boolean,
    by: Provenance,
  ): Promise<AdminApplication> {
    requireAdmin(caller);
    const row = await found(clientId);
    // Asking again for what already holds changes nothing and records nothing.
    if ((row.suspended_at !== null) === suspend) return toAdminView(row);
    const at = suspend ? now() : null;
    await repo.setSuspended(clientId, at, [
      audit.event(
        suspend ? 'application.suspended' : 'application.unsuspended',
        {
          account: row.owner_id,
          target: { type: 'application', id: clientId },
          data: { name: row.name },
        },
        by,
      ),
    ]);
    events.publish({ kind: 'application', id: clientId });
    return toAdminView({ ...row, suspended_at: at });
  }

  return {
    /**
     * Every application, newest first, a page at a time; `search` matches the name or client id.
     * Reading is guarded where it is asked: the console (admins and auditors), the admin:all route.
     */
    async list(query: AdminApplicationsQuery): Promise<AdminApplicationPage> {
      const after = decodeCursor(query.cursor);
      const rows = await repo.listAll({
        search: query.search || undefined,
        after: after && { createdAt: after.createdAt, clientId: after.id },
        limit: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        data: page.map(toAdminView),
        next_cursor:
          rows.length > query.limit && last
            ? encodeCursor({ createdAt: Number(last.created_at), id: last.client_id })
            : null,
      };
    },

    /** One application as the console shows it. */
    async get(clientId: string): Promise<AdminApplication> {
      return toAdminView(await found(clientId));
    },

    suspend: (caller: Principal, clientId: string, by: Provenance) => setSuspended(caller, clientId, true, by),
    unsuspend: (caller: Principal, clientId: string, by: Provenance) => setSuspended(caller, clientId, false, by),
  };
}
export type ApplicationSuspension = ReturnType<typeof createApplicationSuspension>;
