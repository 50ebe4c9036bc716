import type { DB } from '../db/client.ts';

/** Generated-once server material (signing keys, cookie keys). First writer wins. */
export function createServerSecretsRepo(db: DB) {
  return {
    async get(name: string): Promise<string | undefined> {
      const row = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirst();
      return row?.value;
    },
    /** Inserts unless present; returns the stored value (another process may have won the race). */
    async putIfAbsent(name: string, value: string, now: number): Promise<string> {
      await db
        .insertInto('server_secrets')
        .values({ name, value, created_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      return (await this.get(name))!;
    },
  };
}
export type ServerSecretsRepo = ReturnType<typeof createServerSecretsRepo>;
