import { z } from 'zod';

/** GET /v2/auth/test: what the server sees in the presented credential (its effective scopes). */
export const authTestSchema = z.object({
  valid: z.literal(true),
  method: z.enum(['api_key', 'oauth', 'jwt', 'session']),
  subject: z.string(),
  scopes: z.array(z.string()),
  expires_at: z.iso.datetime().nullable(),
});
