import type { DB } from '../../db/client.ts';
import { sha256 } from '../../shared/secrets.ts';
import { withEvents, writeOutbox, type TransactionalEvent } from '../webhooks/outbox.repo.ts';
import type { NewUserRow, UserRow, UserUpdate } from '../../db/schema.ts';

export function createAccountsRepo(db: DB) {
  return {
    async insert(row: NewUserRow, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) => trx.insertInto('users').values(row).execute());
    },
    async findByEmail(email: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    },
    async findById(id: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },
    /** A page of users in id order, after the given id (keyset pagination). */
    async list(limit: number, after?: string): Promise<UserRow[]> {
      let q = db.selectFrom('users').selectAll();
      if (after) q = q.where('id', '>', after);
      return q.orderBy('id').limit(limit).execute();
    },
    /** Changes the account's row and writes `events` (webhook events, audit records) in one transaction. */
    async update(id: string, changes: UserUpdate, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) => trx.updateTable('users').set(changes).where('id', '=', id).execute());
    },
    /** Marks the address proven, when it is still the account's (a link sent to an old one proves nothing now). */
    async markEmailVerified(id: string, email: string, at: number): Promise<boolean> {
      const result = await db
        .updateTable('users')
        .set({ email_verified_at: at })
        .where('id', '=', id)
        .where('email', '=', email)
        .where('email_verified_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    /** Counts a completed sign-in and writes its `events` (the audit record) in one transaction. */
    async countSignIn(id: string, events: TransactionalEvent[] = []): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx
          .updateTable('users')
          .set((eb) => ({ sign_in_count: eb('sign_in_count', '+', 1) }))
          .where('id', '=', id)
          .execute(),
      );
    },
    /** The account with this email, read inside the caller's transaction when one is given. */
    async findByEmailIn(trx: DB, email: string): Promise<UserRow | undefined> {
      return trx.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    },
    /** Runs `work` in one transaction: every repository handed `trx` writes inside it. */
    async transaction<T>(work: (trx: DB) => Promise<T>): Promise<T> {
      return db.transaction().execute(work);
    },
    /**
     * Moves the account to a proven address (verified now) and writes `events` in the caller's
     * transaction. Another account holding the address fails the unique index: the caller decides.
     */
    async changeEmail(trx: DB, id: string, email: string, at: number, events: TransactionalEvent[]): Promise<void> {
      await trx
        .updateTable('users')
        .set({ email, email_verified_at: at, updated_at: at })
        .where('id', '=', id)
        .execute();
      await writeOutbox(trx, events);
    },
    /**
     * Deletes the user and writes `events`, in one transaction: their sessions (dashboard and
     * oidc-provider), applications with every token issued to them, grants with their tokens, keys,
     * webhooks with their events, projects and consents all go, or, if any step fails, nothing does.
     */
    async delete(id: string, events: TransactionalEvent[] = []): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const apps = await trx.selectFrom('applications').select('client_id').where('owner_id', '=', id).execute();
        for (const { client_id } of apps)
          await trx.deleteFrom('oidc_payloads').where('client_id', '=', client_id).execute();
        // Tokens the user granted to other applications die with the account, and the grants too.
        const grants = await trx.selectFrom('consents').select('grant_id').where('user_id', '=', id).execute();
        for (const { grant_id } of grants) {
          await trx.deleteFrom('oidc_payloads').where('grant_id_hash', '=', sha256(grant_id)).execute();
          await trx
            .deleteFrom('oidc_payloads')
            .where('type', '=', 'Grant')
            .where('id_hash', '=', sha256(grant_id))
            .execute();
        }
        // The account's sign-ins to the provider (the `_session` cookie) end with it.
        await trx.deleteFrom('oidc_payloads').where('account_id', '=', id).where('type', '=', 'Session').execute();
        // Its webhook events are its data (their deliveries cascade); admins' events are not touched.
        await trx.deleteFrom('webhook_events').where('user_id', '=', id).execute();
        await trx.deleteFrom('users').where('id', '=', id).execute();
        await writeOutbox(trx, events);
      });
    },
  };
}
export type AccountsRepo = ReturnType<typeof createAccountsRepo>;

/** A dashboard session as Settings → Sessions lists it. */
export interface BrowserSessionListing {
  public_id: string | null;
  id_hash: string;
  created_at: number;
  last_seen_at: number | null;
  user_agent: string | null;
  ip: string | null;
}

export function createBrowserSessionsRepo(db: DB) {
  return {
    async insert(row: {
      id_hash: string;
      user_id: string;
      created_at: number;
      expires_at: number;
      authenticated_at: number;
      public_id?: string | null;
      user_agent?: string | null;
      ip?: string | null;
      last_seen_at?: number | null;
      amr?: string | null;
    }) {
      await db.insertInto('browser_sessions').values(row).execute();
    },
    /**
     * The session's user, when it last authenticated and was last seen, its linked provider session
     * and how it was authenticated, if the session exists and has not expired.
     */
    async findUser(
      idHash: string,
      now: number,
    ): Promise<
      | (UserRow & {
          authenticated_at: number | null;
          last_seen_at: number | null;
          provider_session_uid_hash: string | null;
          amr: string | null;
        })
      | undefined
    > {
      return db
        .selectFrom('browser_sessions')
        .innerJoin('users', 'users.id', 'browser_sessions.user_id')
        .selectAll('users')
        .select([
          'browser_sessions.authenticated_at',
          'browser_sessions.last_seen_at',
          'browser_sessions.provider_session_uid_hash',
          'browser_sessions.amr',
        ])
        .where('browser_sessions.id_hash', '=', idHash)
        .where('browser_sessions.expires_at', '>', now)
        .executeTakeFirst();
    },
    /** The account's unexpired sessions, the most recently used first. */
    async listOf(userId: string, now: number): Promise<BrowserSessionListing[]> {
      return db
        .selectFrom('browser_sessions')
        .select(['public_id', 'id_hash', 'created_at', 'last_seen_at', 'user_agent', 'ip'])
        .where('user_id', '=', userId)
        .where('expires_at', '>', now)
        .orderBy((eb) => eb.fn.coalesce('last_seen_at', 'created_at'), 'desc')
        .orderBy('id_hash')
        .execute();
    },
    async markAuthenticated(idHash: string, at: number): Promise<void> {
      await db.updateTable('browser_sessions').set({ authenticated_at: at }).where('id_hash', '=', idHash).execute();
    },
    /**
     * Records a use of the session (when, from where) unless one was recorded since `notBefore`:
     * concurrent requests of one browser write it once.
     */
    async markSeen(idHash: string, at: number, ip: string, notBefore: number): Promise<void> {
      await db
        .updateTable('browser_sessions')
        .set({ last_seen_at: at, ip })
        .where('id_hash', '=', idHash)
        .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', notBefore)]))
        .execute();
    },
    /** Remembers the oidc-provider session this session signed in (by the hash of its uid). */
    async linkProviderSession(idHash: string, userId: string, uidHash: string): Promise<void> {
      await db
        .updateTable('browser_sessions')
        .set({ provider_session_uid_hash: uidHash })
        .where('id_hash', '=', idHash)
        .where('user_id', '=', userId)
        .execute();
    },
    async delete(idHash: string): Promise<void> {
      await db.deleteFrom('browser_sessions').where('id_hash', '=', idHash).execute();
    },
    /**
     * Signs out one session of the account by its public handle, never the kept one nor another
     * account's; returns what was ended (its linked provider session) or undefined if none was.
     */
    async deleteOneOf(
      userId: string,
      publicId: string,
      keepIdHash: string,
    ): Promise<{ provider_session_uid_hash: string | null } | undefined> {
      return db
        .deleteFrom('browser_sessions')
        .where('user_id', '=', userId)
        .where('public_id', '=', publicId)
        .where('id_hash', '!=', keepIdHash)
        .returning('provider_session_uid_hash')
        .executeTakeFirst();
    },
    /**
     * Signs the account out everywhere but the given session (after a password change, or from
     * Settings → Sessions); returns the linked provider sessions of those ended.
     */
    async deleteOthers(userId: string, keepIdHash: string): Promise<{ provider_session_uid_hash: string | null }[]> {
      return db
        .deleteFrom('browser_sessions')
        .where('user_id', '=', userId)
        .where('id_hash', '!=', keepIdHash)
        .returning('provider_session_uid_hash')
        .execute();
    },
    /** Signs the account out of every browser (its password was reset). */
    async deleteAllOf(userId: string): Promise<void> {
      await db.deleteFrom('browser_sessions').where('user_id', '=', userId).execute();
    },
    async deleteExpired(now: number): Promise<void> {
      await db.deleteFrom('browser_sessions').where('expires_at', '<=', now).execute();
    },
  };
}
export type BrowserSessionsRepo = ReturnType<typeof createBrowserSessionsRepo>;
