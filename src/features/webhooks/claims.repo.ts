import { sql } from 'kysely';
import { isPostgres, type DB } from '../../db/client.ts';

export interface ClaimLimits {
  now: number;
  /** Claimed deliveries are held until then (a crashed worker's claims come back by themselves). */
  lockUntil: number;
  /** Free slots in the claiming worker's pool. */
  limit: number;
  /** Deliveries in flight to one endpoint, at most (across every instance). */
  perEndpoint: number;
  /** Deliveries in flight for one account, at most (across every instance). */
  perAccount: number;
}

// PostgreSQL: claims take this transaction-scoped advisory lock, so they run one at a time across
// instances and each one counts what is in flight exactly (a bare UPDATE would not see a claim
// committed while it runs, and two instances could each send an endpoint its whole share).
const CLAIM_LOCK = 0x4c4b_5748; // "LKWH"

/**
 * Claims due deliveries of active endpoints, fairly, and holds them until `lockUntil`:
 * - an endpoint gets at most `perEndpoint` in flight, an account at most `perAccount` (deliveries
 *   claimed and not yet settled count, whoever claimed them);
 * - among accounts, the one with the fewest in flight comes first, then the one served least
 *   recently (round robin: a long backlog does not keep an account in front), then the oldest;
 *   within an account, its endpoints take turns.
 * A claimed row is invisible to every other claimer until it is settled or its lock runs out.
 * SQLite: the claim is one UPDATE statement, which takes the write lock before it reads, so claims
 * are serialised across processes too (and only when a read found something due).
 */
export async function claimFairly(db: DB, l: ClaimLimits): Promise<Array<{ id: string; endpoint_id: string }>> {
  const postgres = isPostgres(db);
  // In flight: claimed and not settled (settling always clears locked_until; an expired claim
  // of a crashed worker no longer counts). Both counts group through webhook_endpoints so the
  // planner reads them from the locked_until index (a handful of rows), not the whole table.
  const inFlight = sql`f.locked_until > ${l.now}`;
  // Each active endpoint's first `perEndpoint` due deliveries, found by index seeks per endpoint,
  // so a claim costs the same whatever the backlog behind them.
  const nthDue = (n: number) => sql`
    select e.id as endpoint_id, e.user_id, ${sql.lit(n + 1)} as endpoint_rank, (
      select q.id from webhook_deliveries q
      where q.endpoint_id = e.id and q.status = 'pending' and q.next_attempt_at <= ${l.now}
        and (q.locked_until is null or q.locked_until <= ${l.now})
      order by q.next_attempt_at, q.id limit 1 offset ${sql.lit(n)}
    ) as id
    from webhook_endpoints e where e.status = 'active'`;
  const heads = sql.join(
    Array.from({ length: l.perEndpoint }, (_, n) => nthDue(n)),
    sql` union all `,
  );
  // Within an account its endpoints take turns: every endpoint's first due delivery ranks before
  // any endpoint's second (then the oldest first).
  const endpointsFirst = sql`order by due.endpoint_rank, due.next_attempt_at, due.id`;
  const fair = sql`
    select fair.id from (
      select allowed.id, allowed.next_attempt_at,
             allowed.account_rank + coalesce(account_busy.n, 0) as account_load,
             coalesce(account_turn.served_at, 0) as served_at
      from (
        select due.id, due.user_id, due.next_attempt_at,
               row_number() over (partition by due.user_id ${endpointsFirst}) as account_rank
        from (
          select head.id, head.endpoint_id, head.user_id, head.endpoint_rank, d.next_attempt_at
          from (${heads}) head
          join webhook_deliveries d on d.id = head.id
        ) due
        left join (
          select fe.id as endpoint_id, count(*) as n
          from webhook_deliveries f join webhook_endpoints fe on fe.id = f.endpoint_id
          where ${inFlight} group by fe.id
        ) endpoint_busy on endpoint_busy.endpoint_id = due.endpoint_id
        where due.endpoint_rank + coalesce(endpoint_busy.n, 0) <= ${l.perEndpoint}
      ) allowed
      left join (
        select fe.user_id, count(*) as n
        from webhook_deliveries f join webhook_endpoints fe on fe.id = f.endpoint_id
        where ${inFlight} group by fe.user_id
      ) account_busy on account_busy.user_id = allowed.user_id
      left join (
        select user_id, max(last_claimed_at) as served_at from webhook_endpoints group by user_id
      ) account_turn on account_turn.user_id = allowed.user_id
      where allowed.account_rank + coalesce(account_busy.n, 0) <= ${l.perAccount}
    ) fair
    order by fair.account_load, fair.served_at, fair.next_attempt_at, fair.id
    limit ${l.limit}`;

  const claim = (on: DB) =>
    sql<{ id: string; endpoint_id: string }>`
      update webhook_deliveries set locked_until = ${l.lockUntil}
      where id in (${fair}) and (locked_until is null or locked_until <= ${l.now})
      returning id, endpoint_id`.execute(on);
  // SQLite: every instance polls this each second, and the UPDATE takes the database's write lock
  // before it reads; while another process holds that lock, a writer waits up to busy_timeout with
  // its event loop held. So a read first tells whether anything is due: an idle queue costs a read.
  if (!postgres && (await sql`${fair}`.execute(db)).rows.length === 0) return [];
  const claimed = postgres
    ? await db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(CLAIM_LOCK)})`.execute(trx);
        return claim(trx);
      })
    : await claim(db);
  // Only a hint for the order of the next claims: written after the claim, outside it.
  const endpoints = [...new Set(claimed.rows.map((c) => c.endpoint_id))];
  if (endpoints.length > 0) {
    await db.updateTable('webhook_endpoints').set({ last_claimed_at: l.now }).where('id', 'in', endpoints).execute();
  }
  return claimed.rows;
}
