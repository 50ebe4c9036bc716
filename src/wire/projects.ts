import { z } from 'zod';

/** /v2/projects on the wire. */
export const projectViewSchema = z.object({
  id: z.string(),
  owner_id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type ProjectView = z.infer<typeof projectViewSchema>;

export const createProjectSchema = z.strictObject({
  name: z.string().trim().min(1, 'name is required').max(200),
  description: z.string().max(2000).nullish(),
});
export const updateProjectSchema = createProjectSchema.partial();
export const listProjectsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type CreateProjectInput = z.infer<typeof createProjectSchema>;
export type UpdateProjectInput = z.infer<typeof updateProjectSchema>;
export type ListProjectsQuery = z.infer<typeof listProjectsQuery>;
