import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createConsentsRepo } from '../../src/features/consents/consents.repo.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import { createPayloadsRepo, type PayloadWrite } from '../../src/oidc/payloads.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import {
  LATE,
  assertForeignKeyViolation,
  assertRefusesNul,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { insertApplication, insertUser, T0, type ConsentRow } from './rows.ts';

/** Consents: one per (user, application), upserted; listed with the application's name; revoked with the grant. */
export function consentsRepoContract(s: Storage): void {
  const repo = () => createConsentsRepo(s.db);
  const consent = (userId: string, clientId: string, over: Partial<ConsentRow> = {}): ConsentRow => ({
    user_id: userId,
    client_id: clientId,
    grant_id: freshId('grant'),
    scopes: JSON.stringify(['read:users']),
    created_at: T0,
    updated_at: T0,
    ...over,
  });
  const pair = async () => {
    const user = await insertUser(s.db);
    const owner = await insertUser(s.db);
    const app = await insertApplication(s.db, owner.id, { name: 'Ünïcode app 🧩' });
    return { user, app };
  };

  it('returns every column as written, found by (user, client) and by grant', async () => {
    const { user, app } = await pair();
    const row = consent(user.id, app.client_id, {
      scopes: JSON.stringify(['read:users', 'wrïte:🔑']),
      created_at: LATE,
      updated_at: LATE + 1,
    });
    await repo().upsert(row, []);
    assert.deepEqual(await repo().find(user.id, app.client_id), row);
    assert.deepEqual(await repo().findByGrant(row.grant_id), row);
    assert.equal(await repo().find(user.id, 'app_nobody'), undefined);
    assert.equal(await repo().findByGrant('grant_nobody'), undefined);
  });

  it('upserts: a new grant replaces the old one, keeping when consent was first given', async () => {
    const { user, app } = await pair();
    const first = consent(user.id, app.client_id);
    await repo().upsert(first, []);
    const second = consent(user.id, app.client_id, { scopes: '[]', created_at: LATE, updated_at: LATE });
    const event = buildEvent('consent.granted', user.id, { client_id: app.client_id }, LATE);
    await repo().upsert(second, [event]);
    assert.deepEqual(await repo().find(user.id, app.client_id), { ...second, created_at: T0 });
    assert.equal(await repo().findByGrant(first.grant_id), undefined);
    const stored = await s.db.selectFrom('webhook_events').select('id').where('id', '=', event.id).execute();
    assert.equal(stored.length, 1);
  });

  it('takes concurrent upserts of one (user, application) without a conflict error, leaving one row', async () => {
    const { user, app } = await pair();
    const rows = Array.from({ length: 6 }, (_, i) => consent(user.id, app.client_id, { updated_at: T0 + i }));
    await Promise.all(rows.map((row) => repo().upsert(row, [])));
    const stored = await s.db.selectFrom('consents').selectAll().where('user_id', '=', user.id).execute();
    assert.equal(stored.length, 1);
    assert.ok(rows.some((r) => r.grant_id === stored[0]!.grant_id));
  });

  it("lists a user's consents with each application's name, most recently updated first", async () => {
    const user = await insertUser(s.db);
    const owner = await insertUser(s.db);
    const apps = [];
    for (const name of ['Älpha', 'Beta 🅱', 'Gamma']) apps.push(await insertApplication(s.db, owner.id, { name }));
    await repo().upsert(consent(user.id, apps[0]!.client_id, { updated_at: T0 + 2 }), []);
    await repo().upsert(consent(user.id, apps[1]!.client_id, { updated_at: LATE }), []);
    await repo().upsert(consent(user.id, apps[2]!.client_id, { updated_at: T0 + 1 }), []);
    await repo().upsert(consent(owner.id, apps[0]!.client_id), []);
    const listed = await repo().listByUser(user.id);
    assert.deepEqual(
      listed.map((c) => c.app_name),
      ['Beta 🅱', 'Älpha', 'Gamma'],
    );
    assert.ok(listed.every((c) => c.user_id === user.id));
    assert.deepEqual(await repo().listByUser('usr_nobody'), []);
  });

  it('refuses a consent to an unknown application, and NUL in a grant id', async () => {
    const user = await insertUser(s.db);
    await assertForeignKeyViolation(repo().upsert(consent(user.id, 'app_nobody'), []));
    await assertRefusesNul(repo().findByGrant('grant_\u0000'));
  });

  it('deletes by grant, with its event', async () => {
    const { user, app } = await pair();
    const row = consent(user.id, app.client_id);
    await repo().upsert(row, []);
    const event = buildEvent('grant.revoked', user.id, { grant_id: row.grant_id }, LATE);
    await repo().deleteByGrant(row.grant_id, [event]);
    assert.equal(await repo().find(user.id, app.client_id), undefined);
    const stored = await s.db.selectFrom('webhook_events').select('id').where('id', '=', event.id).execute();
    assert.equal(stored.length, 1);
  });

  it('revokes the consent with its grant and every token and code issued under it, nothing else', async () => {
    const { user, app } = await pair();
    const row = consent(user.id, app.client_id);
    await repo().upsert(row, []);
    const payloads = createPayloadsRepo(s.db);
    const write = async (type: string, over: Partial<PayloadWrite> = {}) => {
      const idHash = sha256(freshId('tok'));
      await payloads.upsert({
        type,
        idHash,
        payload: '{}',
        grantIdHash: sha256(row.grant_id),
        clientId: app.client_id,
        uidHash: null,
        userCodeHash: null,
        expiresAt: LATE,
        accountId: null,
        ...over,
      });
      return idHash;
    };
    const access = await write('AccessToken');
    const refresh = await write('RefreshToken');
    const code = await write('AuthorizationCode');
    await payloads.upsert({
      type: 'Grant',
      idHash: sha256(row.grant_id),
      payload: '{}',
      grantIdHash: null,
      clientId: app.client_id,
      uidHash: null,
      userCodeHash: null,
      expiresAt: LATE,
      accountId: null,
    });
    const otherGrant = await write('AccessToken', { grantIdHash: sha256(freshId('grant')) });

    await repo().revokeWithGrant(user.id, app.client_id, row.grant_id, []);
    assert.equal(await repo().find(user.id, app.client_id), undefined);
    assert.equal(await payloads.findById('AccessToken', access), undefined);
    assert.equal(await payloads.findById('RefreshToken', refresh), undefined);
    assert.equal(await payloads.findById('AuthorizationCode', code), undefined);
    assert.equal(await payloads.findById('Grant', sha256(row.grant_id)), undefined);
    assert.ok(await payloads.findById('AccessToken', otherGrant));
  });
}

describeStorage('consents repository', consentsRepoContract);
