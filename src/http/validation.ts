import type { z } from 'zod';
import { validationFailed } from './errors.ts';

/** Parses input with a zod schema; the first problem becomes a VALIDATION_FAILED naming its field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    throw validationFailed(`Unknown field: ${issue.keys.join(', ')}`, issue.keys[0]);
  }
  throw validationFailed(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}
