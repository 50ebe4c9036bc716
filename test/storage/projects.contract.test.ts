import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createProjectsRepo } from '../../src/features/projects/projects.repo.ts';
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
import { insertUser, projectRow, T0 } from './rows.ts';

/** Projects: round trips, partial updates, newest-first listing by owner or for everyone, with offset paging. */
export function projectsRepoContract(s: Storage): void {
  const repo = () => createProjectsRepo(s.db);

  it('returns every column as written, a null description and a long one', async () => {
    const user = await insertUser(s.db);
    const plain = projectRow(user.id);
    const full = projectRow(user.id, { name: AWKWARD, description: LONG, created_at: LATE, updated_at: LATE + 1 });
    await repo().insert(plain);
    await repo().insert(full);
    assert.deepEqual(await repo().findById(plain.id), plain);
    assert.deepEqual(await repo().findById(full.id), full);
    assert.equal(await repo().findById('prj_nobody'), undefined);
  });

  it('refuses a duplicate id, an unknown owner and NUL', async () => {
    const user = await insertUser(s.db);
    const row = projectRow(user.id);
    await repo().insert(row);
    await assertUniqueViolation(repo().insert(row));
    await assertForeignKeyViolation(repo().insert(projectRow('usr_nobody')));
    await assertRefusesNul(repo().insert(projectRow(user.id, { description: '\u0000' })));
  });

  it('updates only the columns given; empty text and null stay apart', async () => {
    const user = await insertUser(s.db);
    const row = projectRow(user.id, { description: 'before' });
    await repo().insert(row);
    await repo().update(row.id, { name: 'Renamed ✨', updated_at: LATE });
    assert.deepEqual(await repo().findById(row.id), { ...row, name: 'Renamed ✨', updated_at: LATE });
    await repo().update(row.id, { description: '' });
    assert.equal((await repo().findById(row.id))?.description, '', 'an empty text stays empty, not null');
    await repo().update(row.id, { description: null });
    assert.equal((await repo().findById(row.id))?.description, null);
  });

  it("lists newest first (ties by id), one owner's or everyone's, a page at a time", async () => {
    const user = await insertUser(s.db);
    const other = await insertUser(s.db);
    const tag = freshId('prj');
    const rows = [
      projectRow(user.id, { id: `${tag}_a`, created_at: T0 + 1 }),
      projectRow(user.id, { id: `${tag}_c`, created_at: LATE }),
      projectRow(user.id, { id: `${tag}_b`, created_at: T0 + 2 }),
      projectRow(user.id, { id: `${tag}_d`, created_at: T0 + 2 }),
      projectRow(other.id, { id: `${tag}_e`, created_at: LATE + 1 }),
    ];
    for (const row of rows) await repo().insert(row);
    const mine = [`${tag}_c`, `${tag}_b`, `${tag}_d`, `${tag}_a`];
    assert.deepEqual(
      (await repo().list(user.id, 10, 0)).map((p) => p.id),
      mine,
    );
    assert.deepEqual(
      (await repo().list(user.id, 2, 0)).map((p) => p.id),
      mine.slice(0, 2),
    );
    assert.deepEqual(
      (await repo().list(user.id, 2, 2)).map((p) => p.id),
      mine.slice(2),
    );
    assert.deepEqual(await repo().list(user.id, 2, 100), []);
    const everyone = (await repo().list(null, 10_000, 0)).map((p) => p.id);
    assert.ok(everyone.includes(`${tag}_e`) && mine.every((id) => everyone.includes(id)));
    assert.ok(everyone.indexOf(`${tag}_e`) < everyone.indexOf(`${tag}_c`), 'newest first across owners');
  });

  it('deletes one project; an unknown id is no error', async () => {
    const user = await insertUser(s.db);
    const [a, b] = [projectRow(user.id), projectRow(user.id)];
    await repo().insert(a);
    await repo().insert(b);
    await repo().delete(a.id);
    await repo().delete('prj_nobody');
    assert.equal(await repo().findById(a.id), undefined);
    assert.ok(await repo().findById(b.id));
  });
}

describeStorage('projects repository', projectsRepoContract);
