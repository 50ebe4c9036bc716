import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createApisRepo } from '../../src/features/apis/apis.repo.ts';
import { createApplicationsRepo } from '../../src/features/applications/applications.repo.ts';
import {
  AWKWARD,
  LATE,
  assertForeignKeyViolation,
  assertRefusesNul,
  assertUniqueViolation,
  describeStorage,
  freshId,
  type Storage,
} from './contract.ts';
import { insertApplication, insertUser, T0 } from './rows.ts';

type ApisRepo = ReturnType<typeof createApisRepo>;
type ApiRow = Parameters<ApisRepo['insert']>[0];
type ApiScopeRow = Parameters<ApisRepo['insert']>[1][number];

function apiRow(ownerId: string, over: Partial<ApiRow> = {}): ApiRow {
  const id = over.id ?? freshId('api');
  return {
    id,
    owner_id: ownerId,
    identifier: `https://${id}.example.com/api`,
    name: 'Orders',
    access_token_format: 'opaque',
    access_token_ttl: 3600,
    created_at: T0,
    updated_at: T0,
    ...over,
  };
}

const scopesFor = (apiId: string, ...names: string[]): ApiScopeRow[] =>
  names.map((name, position) => ({ api_id: apiId, name, description: `May ${name}`, position }));

/** A scope name unique to this run: names are unique across every API in the database. */
const scopeName = (what: string) => `${what}:${freshId('s')}`;

/** APIs and their scopes: round trips, uniqueness across APIs, scopes leaving applications with their API. */
export function apisRepoContract(s: Storage): void {
  const repo = () => createApisRepo(s.db);
  const applications = () => createApplicationsRepo(s.db);

  it('returns the API with its scopes in their order, by id and by identifier', async () => {
    const user = await insertUser(s.db);
    const api = apiRow(user.id, { name: AWKWARD, access_token_format: 'jwt', created_at: LATE, updated_at: LATE });
    const scopes = scopesFor(api.id, scopeName('write'), scopeName('read'), scopeName('admin'));
    scopes[0]!.description = AWKWARD;
    await repo().insert(api, scopes);
    assert.deepEqual(await repo().findById(api.id), { api, scopes });
    assert.deepEqual(await repo().findByIdentifier(api.identifier), { api, scopes });
    assert.equal(await repo().findById('api_nobody'), undefined);
    assert.equal(await repo().findByIdentifier('https://nobody.example.com'), undefined);
    const bare = apiRow(user.id);
    await repo().insert(bare, []);
    assert.deepEqual(await repo().findById(bare.id), { api: bare, scopes: [] });
  });

  it('refuses a taken identifier, a scope name of another API, an unknown owner and NUL, writing nothing', async () => {
    const user = await insertUser(s.db);
    const first = apiRow(user.id);
    const taken = scopeName('read');
    await repo().insert(first, scopesFor(first.id, taken));
    const sameIdentifier = apiRow(user.id, { identifier: first.identifier });
    await assertUniqueViolation(repo().insert(sameIdentifier, []));
    const sameScope = apiRow(user.id);
    await assertUniqueViolation(repo().insert(sameScope, scopesFor(sameScope.id, scopeName('other'), taken)));
    assert.equal(await repo().findById(sameScope.id), undefined, 'no API without the scopes it was registered with');
    await assertForeignKeyViolation(repo().insert(apiRow('usr_nobody'), []));
    await assertRefusesNul(repo().insert(apiRow(user.id, { name: 'a\u0000b' }), []));
  });

  it('finds the APIs owning any of some scope names', async () => {
    const user = await insertUser(s.db);
    const [a, b] = [apiRow(user.id), apiRow(user.id)];
    const [ra, rb, wb] = [scopeName('read'), scopeName('read'), scopeName('write')];
    await repo().insert(a, scopesFor(a.id, ra));
    await repo().insert(b, scopesFor(b.id, rb, wb));
    assert.deepEqual(
      (await repo().findByScopes([ra])).map((r) => r.api.id),
      [a.id],
    );
    const both = await repo().findByScopes([wb, ra, 'read:users', 'nothing']);
    assert.deepEqual(both.map((r) => r.api.id).sort(), [a.id, b.id].sort());
    assert.deepEqual(
      both.find((r) => r.api.id === b.id)?.scopes.map((x) => x.name),
      [rb, wb],
    );
    assert.deepEqual(await repo().findByScopes([]), []);
  });

  it("lists newest first (ties by id), one owner's or everyone's, a page at a time", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const tag = freshId('api');
    const rows = [
      apiRow(user.id, { id: `${tag}_a`, created_at: T0 + 1 }),
      apiRow(user.id, { id: `${tag}_c`, created_at: LATE }),
      apiRow(user.id, { id: `${tag}_b`, created_at: T0 + 2 }),
      apiRow(other.id, { id: `${tag}_d`, created_at: LATE + 1 }),
    ];
    for (const row of rows) await repo().insert(row, scopesFor(row.id, scopeName('x')));
    const mine = [`${tag}_c`, `${tag}_b`, `${tag}_a`];
    assert.deepEqual(
      (await repo().list(user.id, 10, 0)).map((r) => r.api.id),
      mine,
    );
    assert.deepEqual(
      (await repo().list(user.id, 2, 1)).map((r) => r.api.id),
      mine.slice(1),
    );
    assert.equal((await repo().list(user.id, 10, 0))[0]?.scopes.length, 1);
    const everyone = (await repo().list(null, 10_000, 0)).map((r) => r.api.id);
    assert.ok(everyone.indexOf(`${tag}_d`) < everyone.indexOf(`${tag}_c`), 'newest first across owners');
  });

  it('replaces scopes; the removed ones leave every application, the rest stay', async () => {
    const user = await insertUser(s.db);
    const api = apiRow(user.id);
    const [keep, drop, added] = [scopeName('keep'), scopeName('drop'), scopeName('new')];
    await repo().insert(api, scopesFor(api.id, keep, drop));
    const app = await insertApplication(s.db, user.id, { scopes: JSON.stringify(['read:users', keep, drop]) });
    const bystander = await insertApplication(s.db, user.id, { scopes: JSON.stringify(['read:users']) });
    await repo().update(api.id, { name: 'Renamed', updated_at: LATE }, scopesFor(api.id, added, keep));
    const after = await repo().findById(api.id);
    assert.deepEqual(after?.api, { ...api, name: 'Renamed', updated_at: LATE });
    assert.deepEqual(
      after?.scopes.map((x) => x.name),
      [added, keep],
    );
    assert.deepEqual(JSON.parse((await applications().findById(app.client_id))!.scopes), ['read:users', keep]);
    assert.deepEqual(JSON.parse((await applications().findById(bystander.client_id))!.scopes), ['read:users']);
    await repo().update(api.id, { access_token_ttl: 60 });
    assert.deepEqual(
      (await repo().findById(api.id))?.scopes.map((x) => x.name),
      [added, keep],
      'scopes not given are kept',
    );
  });

  it('keeps the old scopes when the new ones clash with another API (one transaction)', async () => {
    const user = await insertUser(s.db);
    const [a, b] = [apiRow(user.id), apiRow(user.id)];
    const [mine, theirs] = [scopeName('mine'), scopeName('theirs')];
    await repo().insert(a, scopesFor(a.id, mine));
    await repo().insert(b, scopesFor(b.id, theirs));
    const app = await insertApplication(s.db, user.id, { scopes: JSON.stringify([mine]) });
    await assertUniqueViolation(repo().update(a.id, { name: 'Changed' }, scopesFor(a.id, theirs)));
    const after = await repo().findById(a.id);
    assert.equal(after?.api.name, a.name);
    assert.deepEqual(
      after?.scopes.map((x) => x.name),
      [mine],
    );
    assert.deepEqual(JSON.parse((await applications().findById(app.client_id))!.scopes), [mine]);
  });

  it('deletes the API and its scopes, which leave every application; counts resource servers', async () => {
    const user = await insertUser(s.db);
    const api = apiRow(user.id);
    const name = scopeName('gone');
    await repo().insert(api, scopesFor(api.id, name));
    const app = await insertApplication(s.db, user.id, { scopes: JSON.stringify([name, 'read:users']) });
    assert.equal(await repo().resourceServersOf(api.identifier), 0);
    await insertApplication(s.db, user.id, { type: 'resource_server', api: api.identifier, scopes: '[]' });
    assert.equal(await repo().resourceServersOf(api.identifier), 1);
    await repo().delete(api.id);
    await repo().delete('api_nobody');
    assert.equal(await repo().findById(api.id), undefined);
    assert.deepEqual(await repo().findByScopes([name]), []);
    assert.deepEqual(JSON.parse((await applications().findById(app.client_id))!.scopes), ['read:users']);
    const again = apiRow(user.id);
    await repo().insert(again, scopesFor(again.id, name));
    assert.deepEqual(JSON.parse((await applications().findById(app.client_id))!.scopes), ['read:users']);
  });
}

describeStorage('apis repository', apisRepoContract);
