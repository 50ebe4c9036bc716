/**
 * A keyset page's cursor: the (created_at, id) of the last row shown, opaque to callers. Anything
 * that does not decode to that shape is no cursor at all (the first page), never an error a caller
 * could probe the database with.
 */
export interface KeysetPosition {
  createdAt: number;
  id: string;
}

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(`${position.createdAt}.${position.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): KeysetPosition | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const dot = text.indexOf('.');
  const createdAt = Number(text.slice(0, dot));
  const id = text.slice(dot + 1);
  if (dot < 1 || !Number.isSafeInteger(createdAt) || !/^[A-Za-z0-9_-]{1,100}$/.test(id)) return undefined;
  return { createdAt, id };
}
