import type { DB } from '../../db/client.ts';
import type { NewUserRow, UserRow } from '../../db/schema.ts';

export function createAccountsRepo(db: DB) {
  return {
    async insert(row: NewUserRow): Promise<void> {
      await db.insertInto('users').values(row).execute();
    },
    async findByEmail(email: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    },
    async findById(id: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },
  };
}
export type AccountsRepo = ReturnType<typeof createAccountsRepo>;

export function createBrowserSessionsRepo(db: DB) {
  return {
    async insert(row: { id_hash: string; user_id: string; created_at: number; expires_at: number }) {
      await db.insertInto('browser_sessions').values(row).execute();
    },
    /** The session's user, if the session exists and has not expired. */
    async findUser(idHash: string, now: number): Promise<UserRow | undefined> {
      return db
        .selectFrom('browser_sessions')
        .innerJoin('users', 'users.id', 'browser_sessions.user_id')
        .selectAll('users')
        .where('browser_sessions.id_hash', '=', idHash)
        .where('browser_sessions.expires_at', '>', now)
        .executeTakeFirst();
    },
    async delete(idHash: string): Promise<void> {
      await db.deleteFrom('browser_sessions').where('id_hash', '=', idHash).execute();
    },
    async deleteExpired(now: number): Promise<void> {
      await db.deleteFrom('browser_sessions').where('expires_at', '<=', now).execute();
    },
  };
}
export type BrowserSessionsRepo = ReturnType<typeof createBrowserSessionsRepo>;
