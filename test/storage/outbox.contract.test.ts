import assert from 'node:assert/strict';
import { beforeEach, it } from 'node:test';
import { createAccountsRepo } from '../../src/features/accounts/accounts.repo.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import { DISABLED_BY_OWNER, DISABLED_FAILING } from '../../src/domain/webhook-events.ts';
import { withEvents, writeOutbox } from '../../src/features/webhooks/outbox.repo.ts';
import { createWebhooksRepo } from '../../src/features/webhooks/webhooks.repo.ts';
import { createProjectsRepo } from '../../src/features/projects/projects.repo.ts';
import { describeStorage, LATE, type Storage } from './contract.ts';
import { endpointRow, insertUser, projectRow, T0 } from './rows.ts';
import { accountWithEndpoints, clearWebhooks, deliveriesOf } from './webhook-fixtures.ts';

/** The outbox: an event and its deliveries exist exactly when the change that caused them does. */
export function outboxRepoContract(s: Storage): void {
  const eventRow = (id: string) =>
    s.db.selectFrom('webhook_events').selectAll().where('id', '=', id).executeTakeFirst();

  beforeEach(() => clearWebhooks(s.db));

  it('stores the event body byte for byte and queues one pending delivery per subscribed endpoint', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1);
    const event = buildEvent('api_key.created', userId, { name: 'Zoë 🔑 "quoted"', n: 2 ** 40 }, LATE);
    await withEvents(s.db, [event], async () => {});
    const stored = await eventRow(event.id);
    assert.deepEqual(stored, {
      id: event.id,
      user_id: userId,
      type: 'api_key.created',
      body: event.body,
      created_at: LATE,
    });
    const queued = await deliveriesOf(s.db, [endpoints[0]!.id]);
    assert.equal(queued.length, 1);
    assert.deepEqual(
      { ...queued[0], id: 'dlv' },
      {
        id: 'dlv',
        event_id: event.id,
        endpoint_id: endpoints[0]!.id,
        status: 'pending',
        attempts: 0,
        next_attempt_at: LATE,
        locked_until: null,
        last_status_code: null,
        last_error: null,
        last_latency_ms: null,
        last_attempt_at: null,
        delivered_at: null,
        created_at: LATE,
      },
    );
  });

  it('delivers to the endpoints that subscribed to the type or to everything, of that account only', async () => {
    const user = await insertUser(s.db);
    const stranger = await accountWithEndpoints(s.db, 1);
    const add = async (events: string[]) => {
      const row = endpointRow(user.id, { events: JSON.stringify(events) });
      await createWebhooksRepo(s.db).insertEndpointWithin(row, 100);
      return row;
    };
    const all = await add(['*']);
    const keys = await add(['api_key.created', 'api_key.revoked']);
    const consents = await add(['consent.granted']);
    await withEvents(s.db, [buildEvent('api_key.revoked', user.id, {}, T0)], async () => {});
    const got = async (id: string) => (await deliveriesOf(s.db, [id])).length;
    assert.deepEqual(
      [await got(all.id), await got(keys.id), await got(consents.id), await got(stranger.endpoints[0]!.id)],
      [1, 1, 0, 0],
    );
  });

  it("sends events about the whole server to admins' endpoints only", async () => {
    const admin = await accountWithEndpoints(s.db, 1);
    await createAccountsRepo(s.db).update(admin.userId, { is_admin: 1 });
    const member = await accountWithEndpoints(s.db, 1);
    const event = buildEvent('user.signed_up', member.userId, {}, T0);
    assert.equal(event.userId, null);
    await withEvents(s.db, [event], async () => {});
    assert.equal((await deliveriesOf(s.db, [admin.endpoints[0]!.id])).length, 1);
    assert.equal((await deliveriesOf(s.db, [member.endpoints[0]!.id])).length, 0);
  });

  it('keeps collecting for an endpoint disabled for failing, not for one its owner turned off', async () => {
    const failing = await accountWithEndpoints(s.db, 1, { status: 'disabled', disabled_reason: DISABLED_FAILING });
    const off = await accountWithEndpoints(s.db, 1, { status: 'disabled', disabled_reason: DISABLED_BY_OWNER });
    for (const a of [failing, off])
      await withEvents(s.db, [buildEvent('api_key.created', a.userId, {}, T0)], async () => {});
    assert.equal((await deliveriesOf(s.db, [failing.endpoints[0]!.id])).length, 1);
    assert.equal((await deliveriesOf(s.db, [off.endpoints[0]!.id])).length, 0);
  });

  it('writes nothing when the change fails, and returns what the change returned when it succeeds', async () => {
    const { userId, endpoints } = await accountWithEndpoints(s.db, 1);
    const project = projectRow(userId);
    const event = buildEvent('api_key.created', userId, {}, T0);
    await assert.rejects(
      withEvents(s.db, [event], async (trx) => {
        await trx.insertInto('projects').values(project).execute();
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    assert.equal(await eventRow(event.id), undefined);
    assert.equal(await createProjectsRepo(s.db).findById(project.id), undefined);
    assert.deepEqual(await deliveriesOf(s.db, [endpoints[0]!.id]), []);

    const answer = await withEvents(s.db, [event], async () => 42);
    assert.equal(answer, 42);
    assert.ok(await eventRow(event.id));
  });

  it('writes several events in one transaction, and an event nobody receives is still recorded', async () => {
    const user = await insertUser(s.db);
    const events = [buildEvent('api_key.created', user.id, {}, T0), buildEvent('api_key.revoked', user.id, {}, T0 + 1)];
    await s.db.transaction().execute((trx) => writeOutbox(trx, events));
    for (const e of events) assert.equal((await eventRow(e.id))?.body, e.body);
  });
}

describeStorage('webhook outbox', outboxRepoContract);
