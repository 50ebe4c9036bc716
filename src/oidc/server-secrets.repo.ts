import type { DB } from '../db/client.ts';
import type { SecretBox } from '../shared/encryption.ts';
import { writeOutbox, type TransactionalEvent } from '../features/webhooks/outbox.repo.ts';

/**
 * Generated-once server material (signing keys, cookie keys), sealed with SECRETS_KEY: with the
 * private signing keys an attacker could mint tokens, with the cookie keys forge cookies, so a
 * database dump must not yield them. Rows written before sealing existed are sealed on first read.
 * First writer wins.
 */
export function createServerSecretsRepo(db: DB, box: SecretBox) {
  const sealed = (value: string) => value.startsWith('v1.');

  async function raw(name: string): Promise<string | undefined> {
    const row = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirst();
    return row?.value;
  }

  return {
    async get(name: string): Promise<string | undefined> {
      const value = await raw(name);
      if (value === undefined) return undefined;
      if (sealed(value)) return box.open(value);
      await db
        .updateTable('server_secrets')
        .set({ value: box.seal(value) })
        .where('name', '=', name)
        .where('value', '=', value)
        .execute();
      return value;
    },
    /** Inserts unless present; returns the stored value (another process may have won the race). */
    async putIfAbsent(name: string, value: string, now: number): Promise<string> {
      await db
        .insertInto('server_secrets')
        .values({ name, value: box.seal(value), created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      return (await this.get(name))!;
    },
    /**
     * Replaces the value only if it is still `expected` (a concurrent change makes this false), with
     * `events` (audit records) written in the same transaction when it does.
     */
    async compareAndSet(name: string, expected: string, value: string, events: TransactionalEvent[] = []) {
      const current = await raw(name);
      if (current === undefined || (sealed(current) ? box.open(current) : current) !== expected) return false;
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('server_secrets')
          .set({ value: box.seal(value) })
          .where('name', '=', name)
          .where('value', '=', current)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await writeOutbox(trx, events);
        return true;
      });
    },
  };
}
export type ServerSecretsRepo = ReturnType<typeof createServerSecretsRepo>;
