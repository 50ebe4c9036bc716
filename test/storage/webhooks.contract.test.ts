import assert from 'node:assert/strict';
import { beforeEach, it } from 'node:test';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import { DISABLED_FAILING } from '../../src/domain/webhook-events.ts';
import { PER_ENDPOINT } from '../../src/features/webhooks/worker.ts';
import { createWebhooksRepo, type DueDelivery } from '../../src/features/webhooks/webhooks.repo.ts';
import {
  AWKWARD,
  LATE,
  LONG,
  assertForeignKeyViolation,
  assertRefusesNul,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { endpointRow, insertUser, T0, type WebhookEndpointRow } from './rows.ts';
import { accountWithEndpoints, clearWebhooks, deliveriesOf, queueEvent } from './webhook-fixtures.ts';

const LOCK_MS = 30_000;

/** Webhook endpoints (with a per-account cap), their delivery log, claims and recorded attempts. */
export function webhooksRepoContract(s: Storage): void {
  const repo = () => createWebhooksRepo(s.db);
  const claimAll = (now: number) =>
    repo().claimDue({ now, lockUntil: now + LOCK_MS, limit: 10, perEndpoint: PER_ENDPOINT, perAccount: 10 });
  /** One endpoint with one due delivery, claimed. */
  const claimedDelivery = async (over: Partial<WebhookEndpointRow> = {}) => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1, over);
    await queueEvent(s.db, userId, T0);
    const [due] = await claimAll(T0);
    assert.ok(due, 'the delivery was claimed');
    return { userId, endpoint: endpoints[0]!, due };
  };
  const failure = (at: number, nextAttemptAt: number | null, error = 'connection refused') => ({
    at,
    statusCode: null,
    latencyMs: 12,
    error,
    nextAttemptAt,
  });
  const neverDisable = { failingSinceBefore: 0, event: () => assert.fail('not disabled') };

  // Claims see every due delivery in the database: each test starts with none.
  beforeEach(() => clearWebhooks(s.db));

  it('returns every endpoint column as written', async () => {
    const user = await insertUser(s.db);
    const row = endpointRow(user.id, {
      url: 'https://hooks.example/ïn?q=🔔',
      events: JSON.stringify(['api_key.created', 'consent.revoked']),
      description: AWKWARD,
      secret_enc: LONG,
      previous_secret_enc: 'v1.previous',
      previous_secret_until: LATE,
      status: 'disabled',
      disabled_reason: DISABLED_FAILING,
      failing_since: LATE - 1,
      last_claimed_at: LATE - 2,
      created_at: LATE - 3,
      updated_at: LATE,
    });
    assert.equal(await repo().insertEndpointWithin(row, 5), true);
    assert.deepEqual(await repo().findEndpoint(row.id), row);
    assert.equal(await repo().findEndpoint('whe_nobody'), undefined);
  });

  it("caps an account's endpoints, also when they are added concurrently", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const rows = Array.from({ length: 7 }, () => endpointRow(user.id));
    const added = await Promise.all(rows.map((row) => repo().insertEndpointWithin(row, 3)));
    assert.equal(added.filter(Boolean).length, 3);
    assert.equal((await repo().listEndpoints(user.id)).length, 3);
    assert.equal(await repo().insertEndpointWithin(endpointRow(other.id), 3), true, 'the cap is per account');
    await assertForeignKeyViolation(repo().insertEndpointWithin(endpointRow('usr_nobody'), 3));
    await assertRefusesNul(repo().insertEndpointWithin(endpointRow(user.id, { url: 'https://x/\u0000' }), 100));
  });

  it("lists an account's endpoints newest first; updates and deletes one", async () => {
    const user = await insertUser(s.db);
    const old = endpointRow(user.id, { created_at: T0 });
    const newer = endpointRow(user.id, { created_at: LATE });
    for (const row of [old, newer]) await repo().insertEndpointWithin(row, 10);
    assert.deepEqual(
      (await repo().listEndpoints(user.id)).map((e) => e.id),
      [newer.id, old.id],
    );
    await repo().updateEndpoint(old.id, { description: '📝', events: '["*"]', updated_at: LATE });
    assert.deepEqual(await repo().findEndpoint(old.id), {
      ...old,
      description: '📝',
      events: '["*"]',
      updated_at: LATE,
    });
    await repo().deleteEndpoint(old.id);
    assert.equal(await repo().findEndpoint(old.id), undefined);
    assert.ok(await repo().findEndpoint(newer.id));
  });

  it('lists deliveries newest first with their event type, and finds one only under its own endpoint', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 2);
    await queueEvent(s.db, userId, T0, 'api_key.created');
    await queueEvent(s.db, userId, T0 + 1, 'api_key.revoked');
    await queueEvent(s.db, userId, T0 + 2, 'consent.granted');
    const [mine, theirs] = endpoints;
    const listed = await repo().listDeliveries(mine!.id, 2);
    assert.deepEqual(
      listed.map((d) => d.type),
      ['consent.granted', 'api_key.revoked'],
    );
    assert.equal(listed[0]?.status, 'pending');
    assert.equal(listed[0]?.attempts, 0);
    assert.equal(JSON.parse(listed[0]!.body).type, 'consent.granted', 'with the exact body sent');
    assert.deepEqual(
      await repo().findDelivery(mine!.id, listed[0]!.id),
      (({ type: _t, body: _b, ...d }) => d)(listed[0]!),
    );
    assert.deepEqual(await repo().findDeliveryWithEvent(mine!.id, listed[0]!.id), listed[0]);
    assert.equal(await repo().findDeliveryWithEvent(theirs!.id, listed[0]!.id), undefined);
    assert.equal(await repo().findDelivery(theirs!.id, listed[0]!.id), undefined);
    assert.equal(await repo().pendingCount(), 6);
  });

  it('claims a due delivery with what sending it needs, once, until its claim runs out', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1, {
      secret_enc: 'v1.current',
      previous_secret_enc: 'v1.old',
      previous_secret_until: LATE,
    });
    const event = await queueEvent(s.db, userId, T0);
    const claimed = await claimAll(T0);
    const [queued] = await deliveriesOf(s.db, [endpoints[0]!.id]);
    assert.deepEqual(claimed, [
      {
        id: queued!.id,
        event_id: event.id,
        endpoint_id: endpoints[0]!.id,
        attempts: 0,
        body: event.body,
        url: endpoints[0]!.url,
        secret_enc: 'v1.current',
        previous_secret_enc: 'v1.old',
        previous_secret_until: LATE,
      } satisfies DueDelivery,
    ]);
    assert.deepEqual(await claimAll(T0 + 1), [], 'held by its claim');
    assert.equal((await claimAll(T0 + LOCK_MS)).length, 1, "a crashed worker's claim comes back");
  });

  it('gives exactly one of several concurrent claimers a delivery', async () => {
    const { userId } = await accountWithEndpoints(s.db, 1);
    await queueEvent(s.db, userId, T0);
    const results = await Promise.all(Array.from({ length: 6 }, () => claimAll(T0)));
    assert.equal(results.flat().length, 1);
  });

  it('releases a claim (shutdown) so the next claim takes it at once; requeues a settled one', async () => {
    const { endpoint, due } = await claimedDelivery();
    await repo().release(due.id);
    const again = await claimAll(T0 + 1);
    assert.deepEqual(
      again.map((d) => d.id),
      [due.id],
    );
    await repo().recordSuccess(again[0]!, T0 + 2, 204, 5);
    await repo().release(due.id); // settled: stays settled
    assert.equal((await repo().findDelivery(endpoint.id, due.id))?.status, 'succeeded');
    await repo().requeue(due.id, LATE);
    const requeued = await repo().findDelivery(endpoint.id, due.id);
    assert.equal(requeued?.status, 'pending');
    assert.equal(requeued?.next_attempt_at, LATE);
    assert.equal(requeued?.locked_until, null);
    assert.equal((await claimAll(LATE)).length, 1);
  });

  it('records a success: the attempt, the delivery settled, the run of failures ended', async () => {
    const { endpoint, due } = await claimedDelivery({ failing_since: T0 - 1 });
    await repo().recordSuccess(due, LATE, 200, 42);
    const settled = await repo().findDelivery(endpoint.id, due.id);
    assert.equal(settled?.status, 'succeeded');
    assert.equal(settled?.attempts, 1);
    assert.equal(settled?.delivered_at, LATE);
    assert.equal(settled?.last_status_code, 200);
    assert.equal(settled?.last_latency_ms, 42);
    assert.equal(settled?.locked_until, null);
    assert.equal((await repo().findEndpoint(endpoint.id))?.failing_since, null);
    assert.deepEqual(await repo().attemptsOf([due.id]), [
      {
        delivery_id: due.id,
        attempt: 1,
        at: LATE,
        status_code: 200,
        latency_ms: 42,
        error: null,
        request_headers: null,
        response_excerpt: null,
      },
    ]);
    assert.deepEqual(await repo().attemptsOf([]), []);
    assert.equal(await repo().pendingCount(), 0);
  });

  it('records what an attempt sent and the response excerpt, capped at 1024 characters', async () => {
    const { due } = await claimedDelivery();
    await repo().recordSuccess(due, LATE, 200, 7, {
      requestHeaders: { 'webhook-id': due.event_id },
      responseExcerpt: 'é'.repeat(3000),
    });
    const [attempt] = await repo().attemptsOf([due.id]);
    assert.deepEqual(JSON.parse(attempt!.request_headers!), { 'webhook-id': due.event_id });
    assert.equal(attempt!.response_excerpt, 'é'.repeat(1024));
  });

  it('retry now brings a queued delivery forward, never one a worker holds or one settled', async () => {
    const { endpoint, due } = await claimedDelivery();
    assert.equal(await repo().bringDeliveryForward(due.id, T0), false, 'held by its claim');
    await repo().release(due.id);
    assert.equal(await repo().bringDeliveryForward(due.id, T0 + 5), true);
    assert.equal((await repo().findDelivery(endpoint.id, due.id))?.next_attempt_at, T0 + 5);
    await repo().recordSuccess(due, T0 + 6, 200, 1);
    assert.equal(await repo().bringDeliveryForward(due.id, T0 + 7), false, 'settled');
  });

  it('queues an event for one endpoint only, up to a limit per account and type', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 2);
    const [one, other] = endpoints;
    const event = (n: number) => ({
      id: `evt_test_${n}`,
      type: 'webhook.test' as const,
      userId,
      body: JSON.stringify({ n }),
      createdAt: T0 + n,
    });
    const limit = { since: T0 - 1, max: 2 };
    assert.ok(await repo().queueForEndpointWithin(one!, event(1), limit));
    assert.ok(await repo().queueForEndpointWithin(one!, event(2), limit));
    assert.equal(await repo().queueForEndpointWithin(one!, event(3), limit), false, 'over the limit');
    assert.equal((await repo().listDeliveries(one!.id, 10)).length, 2);
    assert.equal((await repo().listDeliveries(other!.id, 10)).length, 0, 'never another endpoint');
    assert.equal(await repo().findDeliveryWithEvent(one!.id, 'none'), undefined);
  });

  it('records failures: retried, then given up; the failing run keeps its start; errors cut to 500', async () => {
    const { endpoint, due } = await claimedDelivery();
    await repo().recordFailure(due, failure(T0 + 10, T0 + 1_000, `boom ${'é'.repeat(600)}`), neverDisable);
    let row = await repo().findDelivery(endpoint.id, due.id);
    assert.equal(row?.status, 'pending');
    assert.equal(row?.next_attempt_at, T0 + 1_000);
    assert.equal(row?.last_error?.length, 500);
    assert.equal((await repo().findEndpoint(endpoint.id))?.failing_since, T0 + 10);

    const [retry] = await claimAll(T0 + 1_000);
    assert.equal(retry?.attempts, 1);
    await repo().recordFailure(retry!, { ...failure(T0 + 2_000, null), statusCode: 503 }, neverDisable);
    row = await repo().findDelivery(endpoint.id, due.id);
    assert.equal(row?.status, 'failed');
    assert.equal(row?.attempts, 2);
    assert.equal(row?.last_status_code, 503);
    assert.equal((await repo().findEndpoint(endpoint.id))?.failing_since, T0 + 10, 'the run began at the first');
    assert.deepEqual(
      (await repo().attemptsOf([due.id])).map((a) => [a.attempt, a.status_code]),
      [
        [1, null],
        [2, 503],
      ],
    );
  });

  it('disables an endpoint failing for too long, writing its event in the same transaction', async () => {
    const { userId, endpoint, due } = await claimedDelivery({ failing_since: T0 - 10_000 });
    const watcher = endpointRow(userId, { events: JSON.stringify(['webhook_endpoint.disabled']) });
    await repo().insertEndpointWithin(watcher, 10);
    let event: ReturnType<typeof buildEvent> | undefined;
    await repo().recordFailure(due, failure(T0, T0 + 1_000), {
      failingSinceBefore: T0 - 5_000,
      event: (e) => {
        assert.equal(e.failing_since, T0 - 10_000, 'the event sees the endpoint as it was');
        event = buildEvent('webhook_endpoint.disabled', e.user_id, { id: e.id }, T0);
        return event;
      },
    });
    const disabled = await repo().findEndpoint(endpoint.id);
    assert.equal(disabled?.status, 'disabled');
    assert.equal(disabled?.disabled_reason, DISABLED_FAILING);
    assert.equal(disabled?.updated_at, T0);
    const told = await repo().listDeliveries(watcher.id, 10);
    assert.deepEqual(
      told.map((d) => [d.event_id, d.type]),
      [[event!.id, 'webhook_endpoint.disabled']],
    );
    assert.deepEqual(await claimAll(T0 + 1_000).then((c) => c.filter((d) => d.endpoint_id === endpoint.id)), []);
  });

  it('disables an endpoint once when two of its failures settle at the same time', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1, { failing_since: T0 - 10_000 });
    await queueEvent(s.db, userId, T0);
    await queueEvent(s.db, userId, T0 + 1);
    const claimed = await claimAll(T0 + 1);
    assert.equal(claimed.length, 2);
    const told: string[] = [];
    await Promise.all(
      claimed.map((d) =>
        repo().recordFailure(d, failure(T0 + 2, T0 + 1_000), {
          failingSinceBefore: T0 - 5_000,
          event: (e) => {
            const event = buildEvent('webhook_endpoint.disabled', e.user_id, { id: e.id }, T0 + 2);
            told.push(event.id);
            return event;
          },
        }),
      ),
    );
    assert.equal((await repo().findEndpoint(endpoints[0]!.id))?.status, 'disabled');
    const written = await s.db
      .selectFrom('webhook_events')
      .select('id')
      .where('id', 'in', [...told, 'none'])
      .execute();
    assert.equal(written.length, 1, 'one disable event');
  });

  it('brings pending deliveries of a re-enabled endpoint forward, and nothing else', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 2);
    await queueEvent(s.db, userId, LATE); // due later
    await queueEvent(s.db, userId, T0); // due already
    const [target, other] = endpoints;
    const now = T0 + 5;
    await repo().bringForward(target!.id, now);
    const times = async (id: string) =>
      (await deliveriesOf(s.db, [id])).map((d) => d.next_attempt_at).sort((a, b) => a - b);
    assert.deepEqual(await times(target!.id), [T0, now]);
    assert.deepEqual(await times(other!.id), [T0, LATE]);
  });

  it('deletes an endpoint with its deliveries and their attempts', async () => {
    const { endpoint, due } = await claimedDelivery();
    await repo().recordSuccess(due, T0, 200, 1);
    await repo().deleteEndpoint(endpoint.id);
    assert.deepEqual(await deliveriesOf(s.db, [endpoint.id]), []);
    assert.deepEqual(await repo().attemptsOf([due.id]), []);
    assert.equal(await repo().findDelivery(endpoint.id, due.id), undefined);
    assert.equal(await repo().findEndpoint(freshId('whe')), undefined);
  });
}

describeStorage('webhooks repository', webhooksRepoContract);
