import { z } from 'zod';
import type { Principal } from '../../auth/principal.ts';
import { parseInput } from '../../http/validation.ts';
import { newId } from '../../shared/secrets.ts';
import type { ProjectRow } from '../../db/schema.ts';
import type { ProjectsRepo } from './projects.repo.ts';

export const projectViewSchema = z.object({
  id: z.string(),
  owner_id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type ProjectView = z.infer<typeof projectViewSchema>;

const toView = (row: ProjectRow): ProjectView => ({
  id: row.id,
  owner_id: row.owner_id,
  name: row.name,
  description: row.description,
  created_at: new Date(row.created_at).toISOString(),
  updated_at: new Date(row.updated_at).toISOString(),
});

export const createProjectSchema = z.strictObject({
  name: z.string().trim().min(1, 'name is required').max(200),
  description: z.string().max(2000).nullish(),
});
export const updateProjectSchema = createProjectSchema.partial();
export const listProjectsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

/** /v2/projects: a project belongs to its owner; another's is 403 unless admin:all. */
export function createProjectsService(deps: { repo: ProjectsRepo; now(): number }) {
  const { repo, now } = deps;

  async function load(caller: Principal, id: string): Promise<ProjectRow> {
    return caller.ownedOrAdmin(await repo.findById(id), (row) => row.owner_id, 'Project');
  }

  return {
    async list(caller: Principal, query: unknown): Promise<{ data: ProjectView[] }> {
      const { limit, offset } = parseInput(listProjectsQuery, query);
      if (!caller.isAdmin && !caller.accountId) return { data: [] };
      return { data: (await repo.list(caller.isAdmin ? null : caller.accountId, limit, offset)).map(toView) };
    },
    async create(caller: Principal, input: unknown): Promise<ProjectView> {
      const ownerId = caller.requireAccount();
      const data = parseInput(createProjectSchema, input);
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
    async update(caller: Principal, id: string, input: unknown): Promise<ProjectView> {
      const row = await load(caller, id);
      const data = parseInput(updateProjectSchema, input);
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
