import { z } from 'zod';

/** `{"data": [...]}`: how every list is answered. */
export const listOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item) });

/** The error model of our JSON APIs: `{"error":{"code","message","field"?}}`. */
export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }).loose(),
});
