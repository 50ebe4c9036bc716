/**
 * Whether a write failed on a unique index (SQLite "UNIQUE constraint failed", PostgreSQL
 * "duplicate key value violates unique constraint"): two writers raced for one value, and the index
 * decided. Callers turn it into their own refusal (a Conflict, "taken").
 */
export function isUniqueViolation(err: unknown): boolean {
  return /UNIQUE|duplicate key/i.test(String((err as Error | undefined)?.message));
}
