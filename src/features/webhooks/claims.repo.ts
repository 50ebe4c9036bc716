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
 * are serialised across processes too.
 */
export async function claimFairly(db: DB, l: ClaimLimits): Promise<Array<{ id: string; endpoint_id: string }>> {
  const postgres = isPostgres(db);
  const unlocked = sql`(d.locked_until is null or d.locked_until <= ${l.now})`;
  const inFlight = sql`f.status = 'pending' and f.locked_until > ${l.now}`;
  const fair = sql`
    select fair.id from (
      select allowed.id, allowed.next_attempt_at,
             allowed.account_rank + coalesce(account_busy.n, 0) as account_load,
             coalesce(account_turn.served_at, 0) as served_at
      from (
        select due.id, due.user_id, due.next_attempt_at,
               row_number() over (partition by due.user_id order by due.endpoint_rank, due.next_attempt_at, due.id) as account_rank
        from (
          select d.id, d.endpoint_id, e.user_id, d.next_attempt_at,
                 row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as endpoint_rank
          from webhook_deliveries d
          join webhook_endpoints e on e.id = d.endpoint_id
          where d.status = 'pending' and d.next_attempt_at <= ${l.now} and ${unlocked} and e.status = 'active'
        ) due
        left join (
          select f.endpoint_id, count(*) as n from webhook_deliveries f where ${inFlight} group by f.endpoint_id
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
