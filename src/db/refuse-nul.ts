import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { AppError } from '../http/errors.ts';

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object' || depth > 64 || ArrayBuffer.isView(value) || value instanceof Date) return false;
  if (Array.isArray(value)) return value.some((v) => hasNul(v, depth + 1));
  for (const v of Object.values(value)) if (hasNul(v, depth + 1)) return true;
  return false;
}

/**
 * Refuses any query that carries a string with a NUL character (U+0000), on every backend, as a
 * 400 VALIDATION_FAILED. PostgreSQL cannot store NUL in text at all (the query would fail: a 500),
 * SQLite stores it and tools that read C strings later cut the value short; no field Latchkey
 * keeps has a use for it. Input from anywhere (a path parameter, a form field, a JSON member, an
 * OAuth parameter) meets this one check before it reaches SQL.
 */
export const refuseNulText: KyselyPlugin = {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (hasNul(args.node)) throw new AppError('VALIDATION_FAILED', 'Text may not contain the NUL character (U+0000)');
    return args.node;
  },
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  },
};
