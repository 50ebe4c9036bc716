import type { z } from 'zod';
import { ValidationError } from '../domain/errors.ts';

/**
 * Parses input with a wire schema; the first problem becomes a ValidationError naming its field
 * (`redirect_uris.1`), with a message that starts with it. The API and the form pages both parse
 * with this, so a field is refused in the same words wherever it was sent from.
 */
export function parseWire<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    throw new ValidationError(`Unknown field: ${issue.keys.join(', ')}`, issue.keys[0]);
  }
  const field = issue.path.map(String).join('.');
  throw new ValidationError(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}
