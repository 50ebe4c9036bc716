import type { DB } from '../../db/client.ts';
import type { ProjectRow } from '../../db/schema.ts';

export function createProjectsRepo(db: DB) {
  return {
    async insert(row: ProjectRow): Promise<void> {
      await db.insertInto('projects').values(row).execute();
    },
    async findById(id: string): Promise<ProjectRow | undefined> {
      return db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    },
    /** Newest first; `ownerId` null lists everyone's (admin). */
    async list(ownerId: string | null, limit: number, offset: number): Promise<ProjectRow[]> {
      let q = db.selectFrom('projects').selectAll();
      if (ownerId !== null) q = q.where('owner_id', '=', ownerId);
      return q.orderBy('created_at', 'desc').orderBy('id').limit(limit).offset(offset).execute();
    },
    async update(id: string, changes: Partial<Pick<ProjectRow, 'name' | 'description' | 'updated_at'>>): Promise<void> {
      await db.updateTable('projects').set(changes).where('id', '=', id).execute();
    },
    async delete(id: string): Promise<void> {
      await db.deleteFrom('projects').where('id', '=', id).execute();
    },
  };
}
export type ProjectsRepo = ReturnType<typeof createProjectsRepo>;
