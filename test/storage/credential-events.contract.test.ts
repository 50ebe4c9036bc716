import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CREDENTIAL_EVENTS_CHANNEL, createCredentialEventsRepo } from '../../src/shared/credential-events.repo.ts';
import { LATE, assertRefusesNul, describeStorage, type Storage } from './contract.ts';
import { T0 } from './rows.ts';

/** Credential changes for other instances: append-only rows whose ids only grow, read in id order. */
export function credentialEventsRepoContract(s: Storage): void {
  const repo = () => createCredentialEventsRepo(s.db);
  const row = (kind: string, subject: string | null, created_at = T0) => ({
    origin: 'inst-1',
    kind,
    subject,
    created_at,
  });

  // Runs first, on the suite's fresh database.
  it('starts at id 0 with nothing to read', async () => {
    assert.equal(await repo().lastId(), 0);
    assert.deepEqual(await repo().after(0, 10), []);
  });

  it('appends rows with growing ids, read back oldest first from any id, a page at a time', async () => {
    const before = await repo().lastId();
    await repo().append([row('api_key', 'key_1'), row('tokens', null), row('account', 'usr_é🔑')]);
    await repo().append([]);
    const read = await repo().after(before, 10);
    assert.deepEqual(
      read.map(({ id: _id, ...rest }) => rest),
      [
        { origin: 'inst-1', kind: 'api_key', subject: 'key_1' },
        { origin: 'inst-1', kind: 'tokens', subject: null },
        { origin: 'inst-1', kind: 'account', subject: 'usr_é🔑' },
      ],
    );
    const ids = read.map((r) => r.id);
    assert.ok(ids.every((id, i) => typeof id === 'number' && (i === 0 || id > ids[i - 1]!)));
    assert.equal(await repo().lastId(), ids.at(-1));
    assert.deepEqual(await repo().after(before, 2), read.slice(0, 2));
    assert.deepEqual(await repo().after(ids[1]!, 10), read.slice(2));
  });

  it('gives concurrent appends distinct ids, none lost', async () => {
    const before = await repo().lastId();
    await Promise.all(Array.from({ length: 10 }, (_, i) => repo().append([row('application', `app_${i}`)])));
    const read = await repo().after(before, 100);
    assert.equal(read.length, 10);
    assert.equal(new Set(read.map((r) => r.id)).size, 10);
    assert.deepEqual(read.map((r) => r.subject).sort(), Array.from({ length: 10 }, (_, i) => `app_${i}`).sort());
  });

  it('never reuses an id once old rows are pruned, so a reader never misses a new row', async () => {
    await repo().append([row('api_key', 'old', T0)]);
    const highest = await repo().lastId();
    await repo().deleteOlderThan(LATE);
    assert.deepEqual(await repo().after(0, 100), [], 'every row was older');
    await repo().append([row('api_key', 'new', LATE)]);
    const [fresh] = await repo().after(highest, 10);
    assert.ok(fresh && fresh.id > highest, `id ${fresh?.id} after ${highest}`);
    assert.equal(fresh.subject, 'new');
    await repo().deleteOlderThan(LATE);
    assert.equal((await repo().after(highest, 10)).length, 1, 'a row created at the cut-off stays');
  });

  it('refuses NUL in what it appends', async () => {
    const before = await repo().lastId();
    await assertRefusesNul(repo().append([row('api_key', 'key_\u0000')]));
    assert.deepEqual(await repo().after(before, 10), []);
  });

  if (s.backend === 'postgres') {
    it('notifies the other instances on PostgreSQL, after the rows are visible', async () => {
      const client = await s.pool.connect();
      try {
        await client.query(`LISTEN ${CREDENTIAL_EVENTS_CHANNEL}`);
        const heard = new Promise<string | undefined>((resolve) =>
          client.once('notification', (n) => resolve(n.payload)),
        );
        await repo().append([row('tokens', null), row('tokens', null)]);
        const payload = await heard;
        assert.equal(Number(payload), await repo().lastId());
        assert.equal((await repo().after(Number(payload) - 2, 10)).length, 2);
      } finally {
        await client.query(`UNLISTEN ${CREDENTIAL_EVENTS_CHANNEL}`);
        client.release();
      }
    });
  }
}

describeStorage('credential events repository', credentialEventsRepoContract);
