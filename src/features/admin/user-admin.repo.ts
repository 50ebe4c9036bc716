import { isPostgres, type DB } from '../../db/client.ts';
import type { UserRow } from '../../db/schema.ts';
import { withEvents, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

/** What the console shows about an account beside its own row. */
export interface AccountHoldings {
  passkeys: number;
  browserSessions: number;
  providerSessions: number;
  apiKeys: Array<{ id: string; name: string; scopes: string; expires_at: number | null; last_used_at: number | null }>;
  applications: Array<{ client_id: string; name: string; type: string }>;
  authorizedApps: Array<{ client_id: string; name: string | null; scopes: string; created_at: number }>;
}

/** The answer when a change would leave the server without an admin who can sign in. */
export type LastAdmin = 'last_admin';

/** `LIKE` pattern characters taken literally (an email may hold `_`). */
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** SQL for the operators' console: finding accounts, and the changes only admins make to them. */
export function createUserAdminRepo(db: DB) {
  /**
   * Other admins that can still sign in, besides `id`, read inside `trx`. On PostgreSQL their rows
   * are locked, so two admins demoting each other at the same moment cannot both succeed.
   */
  async function otherActiveAdmins(trx: DB, id: string): Promise<number> {
    let q = trx
      .selectFrom('users')
      .select('id')
      .where('is_admin', '=', 1)
      .where('disabled_at', 'is', null)
      .where('id', '!=', id);
    if (isPostgres(trx)) q = q.forUpdate();
    return (await q.execute()).length;
  }

  return {
    /**
     * Accounts whose email contains `query` (case-insensitive: emails are stored lower-cased), in
     * email order, after the email `after` (keyset pagination).
     */
    async search(query: string, page: { after?: string | undefined; limit: number }): Promise<UserRow[]> {
      let q = db.selectFrom('users').selectAll();
      const needle = query.trim().toLowerCase();
      if (needle) q = q.where('email', 'like', `%${escapeLike(needle)}%`);
      if (page.after !== undefined) q = q.where('email', '>', page.after);
      return q.orderBy('email').limit(page.limit).execute();
    },

    async find(id: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async findByEmail(email: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    },

    /** Whether another admin who can sign in exists besides `id`. */
    async hasOtherActiveAdmin(id: string): Promise<boolean> {
      return (await otherActiveAdmins(db, id)) > 0;
    },

    async holdings(id: string, now: number): Promise<AccountHoldings> {
      const count = async (q: { executeTakeFirst(): Promise<{ n: number | string | bigint } | undefined> }) =>
        Number((await q.executeTakeFirst())?.n ?? 0);
      const [passkeys, browserSessions, providerSessions, apiKeys, applications, authorizedApps] = await Promise.all([
        count(
          db
            .selectFrom('passkeys')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('user_id', '=', id),
        ),
        count(
          db
            .selectFrom('browser_sessions')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('user_id', '=', id)
            .where('expires_at', '>', now),
        ),
        count(
          db
            .selectFrom('oidc_payloads')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('account_id', '=', id)
            .where('type', '=', 'Session')
            .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)])),
        ),
        db
          .selectFrom('api_keys')
          .select(['id', 'name', 'scopes', 'expires_at', 'last_used_at'])
          .where('user_id', '=', id)
          .where('revoked_at', 'is', null)
          .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
          .orderBy('created_at', 'desc')
          .execute(),
        db
          .selectFrom('applications')
          .select(['client_id', 'name', 'type'])
          .where('owner_id', '=', id)
          .orderBy('name')
          .execute(),
        db
          .selectFrom('consents')
          .leftJoin('applications', 'applications.client_id', 'consents.client_id')
          .select(['consents.client_id', 'applications.name', 'consents.scopes', 'consents.created_at'])
          .where('consents.user_id', '=', id)
          .orderBy('consents.created_at', 'desc')
          .execute(),
      ]);
      return { passkeys, browserSessions, providerSessions, apiKeys, applications, authorizedApps };
    },

    /**
     * Disables the account and signs it out of every dashboard session, with `events`, in one
     * transaction. Refused (nothing written) when it is an admin and no other admin could sign in
     * after. Answers false when it was already disabled.
     */
    async disable(id: string, at: number, events: TransactionalEvent[]): Promise<boolean | LastAdmin> {
      try {
        return await withEvents(db, events, async (trx) => {
          const row = await trx.selectFrom('users').select('is_admin').where('id', '=', id).executeTakeFirst();
          if (row?.is_admin === 1 && (await otherActiveAdmins(trx, id)) === 0) throw new LastAdminRefusal();
          const res = await trx
            .updateTable('users')
            .set({ disabled_at: at, updated_at: at })
            .where('id', '=', id)
            .where('disabled_at', 'is', null)
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) === 0) throw new NothingChanged();
          await trx.deleteFrom('browser_sessions').where('user_id', '=', id).execute();
          return true;
        });
      } catch (err) {
        return outcomeOf(err);
      }
    },

    /** Enables the account again, with `events`; false when it was not disabled. */
    async enable(id: string, at: number, events: TransactionalEvent[]): Promise<boolean> {
      try {
        return await withEvents(db, events, async (trx) => {
          const res = await trx
            .updateTable('users')
            .set({ disabled_at: null, updated_at: at })
            .where('id', '=', id)
            .where('disabled_at', 'is not', null)
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) === 0) throw new NothingChanged();
          return true;
        });
      } catch (err) {
        const outcome = outcomeOf(err);
        if (outcome === 'last_admin') throw err;
        return outcome;
      }
    },

    /** Turns TOTP off and deletes the recovery codes, with `events`; false when 2FA was off. */
    async resetTwoFactor(id: string, at: number, events: TransactionalEvent[]): Promise<boolean> {
      try {
        return await withEvents(db, events, async (trx) => {
          const res = await trx
            .updateTable('users')
            .set({
              totp_secret_enc: null,
              totp_pending_secret_enc: null,
              totp_enabled_at: null,
              totp_last_step: null,
              updated_at: at,
            })
            .where('id', '=', id)
            .where('totp_secret_enc', 'is not', null)
            .executeTakeFirst();
          if (Number(res.numUpdatedRows) === 0) throw new NothingChanged();
          await trx.deleteFrom('recovery_codes').where('user_id', '=', id).execute();
          return true;
        });
      } catch (err) {
        const outcome = outcomeOf(err);
        if (outcome === 'last_admin') throw err;
        return outcome;
      }
    },

    /**
     * Sets the roles, with `events`, in one transaction. Removing admin is refused (nothing written)
     * when no other admin could sign in after.
     */
    async setRoles(
      id: string,
      roles: { admin: boolean; auditor: boolean },
      at: number,
      events: TransactionalEvent[],
    ): Promise<true | LastAdmin> {
      try {
        return await withEvents(db, events, async (trx) => {
          if (!roles.admin && (await otherActiveAdmins(trx, id)) === 0) {
            const row = await trx.selectFrom('users').select('is_admin').where('id', '=', id).executeTakeFirst();
            if (row?.is_admin === 1) throw new LastAdminRefusal();
          }
          await trx
            .updateTable('users')
            .set({ is_admin: roles.admin ? 1 : 0, is_auditor: roles.auditor ? 1 : 0, updated_at: at })
            .where('id', '=', id)
            .execute();
          return true as const;
        });
      } catch (err) {
        const outcome = outcomeOf(err);
        if (outcome === false) throw err;
        return outcome;
      }
    },

    /** Runs `work` and writes `events` in one transaction (a reset link and its mail, with the record). */
    async withEvents<T>(events: TransactionalEvent[], work: (trx: DB) => Promise<T>): Promise<T> {
      return withEvents(db, events, work);
    },
  };
}
export type UserAdminRepo = ReturnType<typeof createUserAdminRepo>;

/** Thrown inside a transaction to roll it back: the change would leave no admin. */
class LastAdminRefusal extends Error {}
/** Thrown inside a transaction to roll it back: the account was already in the asked state. */
class NothingChanged extends Error {}

function outcomeOf(err: unknown): false | LastAdmin {
  if (err instanceof LastAdminRefusal) return 'last_admin';
  if (err instanceof NothingChanged) return false;
  throw err;
}
