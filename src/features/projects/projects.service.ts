import type { Principal } from '../../domain/principal.ts';
import type { CreateProjectInput, ListProjectsQuery, ProjectView, UpdateProjectInput } from '../../wire/projects.ts';
import { newId } from '../../shared/secrets.ts';
import type { ProjectRow } from '../../db/schema.ts';
import type { ProjectsRepo } from './projects.repo.ts';

const toView = (row: ProjectRow): ProjectView => ({
  id: row.id,
  owner_id: row.owner_id,
  name: row.name,
  description: row.description,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

/** /v2/projects: a project belongs to its owner; another's is 403 unless admin:all. */
export function createProjectsService(deps: { repo: ProjectsRepo; now(): number }) {
  const { repo, now } = deps;

  async function load(caller: Principal, id: string): Promise<ProjectRow> {
    return caller.ownedOrAdmin(await repo.findById(id), (row) => row.owner_id, 'Project');
  }

  return {
    async list(caller: Principal, { limit, offset }: ListProjectsQuery): Promise<{ data: ProjectView[] }> {
      if (!caller.isAdmin && !caller.accountId) return { data: [] };
      return { data: (await repo.list(caller.isAdmin ? null : caller.accountId, limit, offset)).map(toView) };
    },
    /** Every project the account owns (its data export), newest first. */
    async listOwnedBy(userId: string): Promise<ProjectView[]> {
      return (await repo.list(userId, 10_000, 0)).map(toView);
    },
    async create(caller: Principal, data: CreateProjectInput): Promise<ProjectView> {
      const ownerId = caller.requireAccount();
      const t = now();
      const row: ProjectRow = {
        id: newId('prj'),
        owner_id: ownerId,
        name: data.name,
        description: data.description ?? null,
        created_at: t,
        updated_at: t,
      };
      await repo.insert(row);
      return toView(row);
    },
    async get(caller: Principal, id: string): Promise<ProjectView> {
      return toView(await load(caller, id));
    },
    async update(caller: Principal, id: string, data: UpdateProjectInput): Promise<ProjectView> {
      const row = await load(caller, id);
      const changes = {
        ...(data.name !== undefined && { name: data.name }),
        ...(data.description !== undefined && { description: data.description ?? null }),
        updated_at: now(),
      };
      await repo.update(id, changes);
      return toView({ ...row, ...changes });
    },
    async remove(caller: Principal, id: string): Promise<void> {
      await load(caller, id);
      await repo.delete(id);
    },
  };
}
export type ProjectsService = ReturnType<typeof createProjectsService>;
