import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createApplicationsRepo } from '../../src/features/applications/applications.repo.ts';
import { createConsentsRepo } from '../../src/features/consents/consents.repo.ts';
import { buildEvent } from '../../src/features/webhooks/events.ts';
import { createPayloadsRepo } from '../../src/oidc/payloads.repo.ts';
import { sha256 } from '../../src/shared/secrets.ts';
import {
  AWKWARD,
  LATE,
  LONG,
  assertForeignKeyViolation,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { applicationRow, insertApplication, insertUser, T0 } from './rows.ts';

/** OAuth applications (clients): lookup by client id, owner listing, updates, deletion with every artifact. */
export function applicationsRepoContract(s: Storage): void {
  const repo = () => createApplicationsRepo(s.db);

  it('returns every column as written: JSON arrays with unicode, a long name, a null secret', async () => {
    const user = await insertUser(s.db);
    const row = applicationRow(user.id, {
      name: AWKWARD,
      type: 'spa',
      redirect_uris: JSON.stringify(['https://ü.example/cb?x=1&y=🔑', 'http://127.0.0.1:8080/cb', LONG]),
      scopes: JSON.stringify([]),
      secret_hash: null,
      created_at: LATE,
      updated_at: LATE + 1,
    });
    await repo().insert(row, []);
    const found = await repo().findById(row.client_id);
    assert.deepEqual(found, row);
    assert.deepEqual(JSON.parse(found!.redirect_uris)[0], 'https://ü.example/cb?x=1&y=🔑');
  });

  it('returns the consent-page links as written, and clears one with null', async () => {
    const user = await insertUser(s.db);
    const links = {
      logo_uri: 'https://ü.example/logo.png?v=🔑',
      client_uri: 'http://127.0.0.1:8080/',
      policy_uri: LONG,
      tos_uri: 'https://app.example/terms',
    };
    const row = applicationRow(user.id, links);
    await repo().insert(row, []);
    assert.deepEqual(await repo().findById(row.client_id), row);
    await repo().update(row.client_id, { tos_uri: null });
    assert.deepEqual(await repo().findById(row.client_id), { ...row, tos_uri: null });
  });

  it('answers undefined for an unknown client id, and for one carrying NUL (it names no client)', async () => {
    assert.equal(await repo().findById('app_nobody'), undefined);
    assert.equal(await repo().findById('app_\u0000'), undefined);
  });

  it('refuses a duplicate client id or an unknown owner, and NUL in what it writes', async () => {
    const user = await insertUser(s.db);
    const row = await insertApplication(s.db, user.id);
    await assertUniqueViolation(repo().insert(applicationRow(user.id, { client_id: row.client_id }), []));
    await assertForeignKeyViolation(repo().insert(applicationRow('usr_nobody'), []));
    const bad = applicationRow(user.id, { name: 'a\u0000' });
    await assertRefusesNul(repo().insert(bad, []));
    assert.equal(await repo().findById(bad.client_id), undefined);
  });

  it("lists an owner's applications newest first, and nobody else's", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const old = await insertApplication(s.db, user.id, { created_at: T0 });
    const newest = await insertApplication(s.db, user.id, { created_at: LATE });
    const middle = await insertApplication(s.db, user.id, { created_at: T0 + 1 });
    await insertApplication(s.db, other.id);
    assert.deepEqual(
      (await repo().listByOwner(user.id)).map((a) => a.client_id),
      [newest.client_id, middle.client_id, old.client_id],
    );
    assert.deepEqual(await repo().listByOwner('usr_nobody'), []);
  });

  it('updates the columns given, with its events in the same transaction', async () => {
    const user = await insertUser(s.db);
    const row = await insertApplication(s.db, user.id);
    const event = buildEvent('application.secret_rotated', user.id, { client_id: row.client_id }, LATE);
    await repo().update(row.client_id, { secret_hash: 'c'.repeat(64), name: '🚀', updated_at: LATE }, [event]);
    assert.deepEqual(await repo().findById(row.client_id), {
      ...row,
      secret_hash: 'c'.repeat(64),
      name: '🚀',
      updated_at: LATE,
    });
    const stored = await s.db.selectFrom('webhook_events').select('id').where('id', '=', event.id).execute();
    assert.equal(stored.length, 1);
  });

  it("deletes the application with every token, code and consent issued to it, and nobody else's", async () => {
    const owner = await insertUser(s.db);
    const grantor = await insertUser(s.db);
    const doomed = await insertApplication(s.db, owner.id);
    const kept = await insertApplication(s.db, owner.id);
    const payloads = createPayloadsRepo(s.db);
    const token = (clientId: string) => {
      const idHash = sha256(freshId('tok'));
      return payloads
        .upsert({
          type: 'RefreshToken',
          idHash,
          payload: '{}',
          grantIdHash: null,
          clientId,
          uidHash: null,
          userCodeHash: null,
          expiresAt: LATE,
          accountId: null,
        })
        .then(() => idHash);
    };
    const doomedToken = await token(doomed.client_id);
    const keptToken = await token(kept.client_id);
    const consents = createConsentsRepo(s.db);
    for (const app of [doomed, kept]) {
      await consents.upsert(
        {
          user_id: grantor.id,
          client_id: app.client_id,
          grant_id: freshId('grant'),
          scopes: '[]',
          created_at: T0,
          updated_at: T0,
        },
        [],
      );
    }
    const event = buildEvent('application.deleted', owner.id, { client_id: doomed.client_id }, LATE);
    await repo().deleteWithArtifacts(doomed.client_id, [event]);
    assert.equal(await repo().findById(doomed.client_id), undefined);
    assert.equal(await payloads.findById('RefreshToken', doomedToken), undefined);
    assert.equal(await consents.find(grantor.id, doomed.client_id), undefined);
    assert.ok(await repo().findById(kept.client_id));
    assert.ok(await payloads.findById('RefreshToken', keptToken));
    assert.ok(await consents.find(grantor.id, kept.client_id));
    const stored = await s.db.selectFrom('webhook_events').select('id').where('id', '=', event.id).execute();
    assert.equal(stored.length, 1);
  });
}

describeStorage('applications repository', applicationsRepoContract);
