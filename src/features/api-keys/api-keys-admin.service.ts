import { decodeCursor, encodeCursor } from '../../shared/keyset-cursor.ts';
import type { AdminApiKey, AdminApiKeyPage, AdminApiKeysQuery } from '../../wire/admin-resources.ts';
import type { ApiKeysRepo } from './api-keys.repo.ts';
import { displayPrefix } from './key-format.ts';

const iso = (t: number | string | null) => (t === null ? null : new Date(Number(t)).toISOString());

/**
 * Every live API key, for operators: who owns it, what it may do, when it was last used. Revoking
 * one is apiKeys.revoke with the operator's principal (admin:all acts on any key), so the audit
 * trail names the operator as actor and the owner as the account. Reading is guarded where it is
 * asked: the console (admins and auditors) and the admin:all API route.
 */
export function createApiKeysAdmin(deps: { repo: ApiKeysRepo; now(): number }) {
  return {
    async list(query: AdminApiKeysQuery): Promise<AdminApiKeyPage> {
      const after = decodeCursor(query.cursor);
      const rows = await deps.repo.listLive({
        t: deps.now(),
        ownerEmail: query.owner_email ? query.owner_email.toLowerCase() : undefined,
        after,
        limit: query.limit + 1,
      });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        data: page.map(
          (row): AdminApiKey => ({
            id: row.id,
            name: row.name,
            prefix: displayPrefix(row.id),
            owner: { id: row.user_id, email: row.owner_email },
            scopes: JSON.parse(row.scopes) as string[],
            created_at: iso(row.created_at)!,
            last_used_at: iso(row.last_used_at),
            expires_at: iso(row.expires_at),
          }),
        ),
        next_cursor:
          rows.length > query.limit && last ? encodeCursor({ createdAt: Number(last.created_at), id: last.id }) : null,
      };
    },
  };
}
export type ApiKeysAdmin = ReturnType<typeof createApiKeysAdmin>;
