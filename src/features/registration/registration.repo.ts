import type { DB } from '../../db/client.ts';
import { newUserRow } from '../../db/new-user-row.ts';
import type { ApplicationRow, ApplicationUpdate, RegistrationTokenRow } from '../../db/schema.ts';
import { SELF_REGISTERED_OWNER } from '../../domain/registration.ts';
import { withEvents, type TransactionalEvent } from '../webhooks/outbox.repo.ts';

/** The initial access token was not usable when the registration was written (used up, expired, deleted). */
export class RegistrationTokenSpent extends Error {}

export function createRegistrationRepo(db: DB) {
  return {
    /** The account that holds open-mode clients, made the first time one registers (see SELF_REGISTERED_OWNER). */
    async ensureSelfRegisteredOwner(t: number): Promise<void> {
      await db
        .insertInto('users')
        .values(
          newUserRow({
            id: SELF_REGISTERED_OWNER.id,
            email: SELF_REGISTERED_OWNER.email,
            name: SELF_REGISTERED_OWNER.name,
            // Not an argon2 hash: every password check against it fails.
            passwordHash: '!',
            isAdmin: false,
            t,
            emailVerifiedAt: null,
          }),
        )
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },

    async findClient(clientId: string): Promise<ApplicationRow | undefined> {
      if (clientId.includes('\u0000')) return undefined;
      return db.selectFrom('applications').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    },

    /**
     * Stores a self-registered client and, in `token` mode, counts one use of its initial access
     * token in the same transaction: a token used up (or expired) meanwhile stores nothing.
     */
    async insertClient(row: ApplicationRow, token: { id: string; t: number } | null, events: TransactionalEvent[]) {
      await withEvents(db, events, async (trx) => {
        if (token) {
          const counted = await trx
            .updateTable('registration_tokens')
            .set((eb) => ({ uses: eb('uses', '+', 1) }))
            .where('id', '=', token.id)
            .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
            .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', token.t)]))
            .executeTakeFirst();
          if (Number(counted.numUpdatedRows) !== 1) throw new RegistrationTokenSpent();
        }
        await trx.insertInto('applications').values(row).execute();
      });
    },

    async updateClient(clientId: string, changes: ApplicationUpdate, events: TransactionalEvent[]): Promise<void> {
      await withEvents(db, events, (trx) =>
        trx.updateTable('applications').set(changes).where('client_id', '=', clientId).execute(),
      );
    },

    async insertToken(row: Omit<RegistrationTokenRow, 'uses'>): Promise<void> {
      await db.insertInto('registration_tokens').values(row).execute();
    },

    async findTokenByHash(hash: string): Promise<RegistrationTokenRow | undefined> {
      return db.selectFrom('registration_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    },

    /** Initial access tokens, newest first: one admin's, or everyone's (null). */
    async listTokens(createdBy: string | null): Promise<RegistrationTokenRow[]> {
      let q = db.selectFrom('registration_tokens').selectAll();
      if (createdBy !== null) q = q.where('created_by', '=', createdBy);
      return q.orderBy('created_at', 'desc').limit(500).execute();
    },

    /** Deletes an initial access token; true when there was one. Clients it registered stay. */
    async deleteToken(id: string): Promise<boolean> {
      const res = await db.deleteFrom('registration_tokens').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
  };
}
export type RegistrationRepo = ReturnType<typeof createRegistrationRepo>;
