import { sql } from 'kysely';
import { isPostgres, type DB } from '../../db/client.ts';
import type { EmailOutboxTable } from '../../db/schema.ts';

export type QueuedEmail = Pick<EmailOutboxTable, 'id' | 'recipient' | 'template' | 'attempts'> & {
  message_enc: string;
};

/** How long errors are kept on the row: enough to read, bounded whatever a server answers. */
const ERROR_MAX = 500;

/** The email outbox: queued messages, claimed by one sender at a time across every instance. */
export function createEmailOutboxRepo(db: DB) {
  return {
    /** Queues a rendered (sealed) message, due at once. Pass a transaction to queue with a change. */
    async enqueue(
      row: { id: string; recipient: string; template: string; message_enc: string; now: number },
      on: DB = db,
    ): Promise<void> {
      await on
        .insertInto('email_outbox')
        .values({
          id: row.id,
          recipient: row.recipient,
          template: row.template,
          message_enc: row.message_enc,
          status: 'pending',
          attempts: 0,
          next_attempt_at: row.now,
          claimed_until: null,
          sent_at: null,
          last_error: null,
          created_at: row.now,
        })
        .execute();
    },

    /**
     * Claims up to `limit` due messages until `lockUntil`, oldest first. A claimed message is
     * invisible to every other claimer until it is settled or its claim runs out. SQLite: one UPDATE
     * takes the write lock before it reads, so claims are serialised across processes. PostgreSQL:
     * the rows are locked as they are picked (a concurrent claimer skips them), and the UPDATE checks
     * the claim again on the row it locked.
     */
    async claimDue(now: number, lockUntil: number, limit: number): Promise<QueuedEmail[]> {
      const free = sql`(claimed_until is null or claimed_until <= ${now})`;
      const due = sql`
        select id from email_outbox
        where status = 'pending' and next_attempt_at <= ${now} and ${free}
        order by next_attempt_at, id limit ${limit}`;
      // PostgreSQL: picked in a CTE, which runs once; as a subquery of IN it could run again per
      // row, each run skipping the rows locked by the last, and claim past the limit.
      // An idle outbox costs a read per poll, not a write: on SQLite a write waits for the database
      // lock (up to busy_timeout, holding the event loop) whenever another writer holds it.
      const anyDue = await sql<{ id: string }>`${due}`.execute(db);
      if (anyDue.rows.length === 0) return [];
      const claimed = isPostgres(db)
        ? await sql<QueuedEmail>`
            with picked as (${due} for update skip locked)
            update email_outbox set claimed_until = ${lockUntil}
            where id in (select id from picked) and status = 'pending' and ${free}
            returning id, recipient, template, attempts, message_enc`.execute(db)
        : await sql<QueuedEmail>`
            update email_outbox set claimed_until = ${lockUntil}
            where id in (${due}) and status = 'pending' and ${free}
            returning id, recipient, template, attempts, message_enc`.execute(db);
      return claimed.rows.sort((a, b) => (a.id < b.id ? -1 : 1));
    },

    /** Claims one message if it is due and no one holds it (the CLI sends what it queued at once). */
    async claimOne(id: string, now: number, lockUntil: number): Promise<QueuedEmail | undefined> {
      const claimed = await sql<QueuedEmail>`
        update email_outbox set claimed_until = ${lockUntil}
        where id = ${id} and status = 'pending' and next_attempt_at <= ${now}
          and (claimed_until is null or claimed_until <= ${now})
        returning id, recipient, template, attempts, message_enc`.execute(db);
      return claimed.rows[0];
    },

    /** Sent: the message itself is deleted (it may carry a single-use link); the row stays. */
    async recordSent(id: string, at: number): Promise<void> {
      await db
        .updateTable('email_outbox')
        .set((eb) => ({
          status: 'sent',
          attempts: eb('attempts', '+', 1),
          sent_at: at,
          message_enc: null,
          claimed_until: null,
          last_error: null,
        }))
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },

    /** A failed attempt: tried again at `retryAt`, or given up (null), the message then deleted. */
    async recordFailure(id: string, error: string, retryAt: number | null): Promise<void> {
      await db
        .updateTable('email_outbox')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          last_error: error.slice(0, ERROR_MAX),
          claimed_until: null,
          ...(retryAt === null ? { status: 'failed', message_enc: null } : { next_attempt_at: retryAt }),
        }))
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },

    /** Gives a claimed message back unattempted (shutdown): the next claimer sends it. */
    async release(id: string): Promise<void> {
      await db
        .updateTable('email_outbox')
        .set({ claimed_until: null })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .execute();
    },

    async find(id: string): Promise<EmailOutboxTable | undefined> {
      return db.selectFrom('email_outbox').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** Messages not yet sent nor given up, for metrics and tests. */
    async pendingCount(): Promise<number> {
      const row = await db
        .selectFrom('email_outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}
export type EmailOutboxRepo = ReturnType<typeof createEmailOutboxRepo>;
