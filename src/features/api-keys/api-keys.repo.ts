import type { DB } from '../../db/client.ts';
import type { ApiKeyActivityRow, ApiKeyRow } from '../../db/schema.ts';
import type { OutboxEvent } from '../webhooks/events.ts';
import { withEvents, writeOutbox } from '../webhooks/outbox.repo.ts';

/** What authentication needs of a key (its owner's rights are read per request, by the authenticate step). */
export type ApiKeyAuthRow = Pick<
  ApiKeyRow,
  'id' | 'user_id' | 'secret_hash' | 'scopes' | 'allowed_ips' | 'expires_at' | 'revoked_at' | 'grace_until' | 'rate_limit_hourly' | 'rate_limit_burst'
>;

export function createApiKeysRepo(db: DB) {
  return {
    async insert(row: ApiKeyRow, events: OutboxEvent[]): Promise<void> {
      await withEvents(db, events, (trx) => trx.insertInto('api_keys').values(row).execute());
    },

    async findForAuth(id: string): Promise<ApiKeyAuthRow | undefined> {
      return db
        .selectFrom('api_keys')
        .innerJoin('users', 'users.id', 'api_keys.user_id')
        .select([
          'api_keys.id', 'api_keys.user_id', 'api_keys.secret_hash', 'api_keys.scopes', 'api_keys.allowed_ips',
          'api_keys.expires_at', 'api_keys.revoked_at', 'api_keys.grace_until', 'api_keys.rate_limit_hourly',
          'api_keys.rate_limit_burst',
        ])
        .where('api_keys.id', '=', id)
        .executeTakeFirst();
    },

    async findOwned(userId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    },

    async listOwned(userId: string): Promise<ApiKeyRow[]> {
      return db.selectFrom('api_keys').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').orderBy('id').execute();
    },

    /** Revokes (once: a second revoke changes nothing and emits nothing). */
    async revoke(id: string, at: number, events: OutboxEvent[]): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const result = await trx.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
        if (Number(result.numUpdatedRows) > 0) await writeOutbox(trx, events);
      });
    },

    /** Inserts the replacement and marks the old key, in one transaction. */
    async rotate(oldId: string, replacement: ApiKeyRow, graceUntil: number, events: OutboxEvent[]): Promise<void> {
      await withEvents(db, events, async (trx) => {
        await trx.insertInto('api_keys').values(replacement).execute();
        await trx
          .updateTable('api_keys')
          .set({ replaced_by: replacement.id, grace_until: graceUntil })
          .where('id', '=', oldId)
          .execute();
      });
    },

    /** Writes a batch of activity entries and last-use stamps in one transaction (cheap per request). */
    async recordUsage(entries: ApiKeyActivityRow[]): Promise<void> {
      if (entries.length === 0) return;
      const last = new Map<string, ApiKeyActivityRow>();
      for (const e of entries) last.set(e.key_id, e);
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < entries.length; i += 500) {
          await trx.insertInto('api_key_activity').values(entries.slice(i, i + 500)).execute();
        }
        for (const e of last.values()) {
          await trx.updateTable('api_keys').set({ last_used_at: e.at, last_used_ip: e.ip }).where('id', '=', e.key_id).execute();
        }
      });
    },

    async activity(keyId: string, limit: number, before?: number): Promise<ApiKeyActivityRow[]> {
      let q = db.selectFrom('api_key_activity').selectAll().where('key_id', '=', keyId);
      if (before !== undefined) q = q.where('at', '<', before);
      return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },

    async pruneActivity(olderThan: number): Promise<void> {
      await db.deleteFrom('api_key_activity').where('at', '<', olderThan).execute();
    },
  };
}
export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>;
