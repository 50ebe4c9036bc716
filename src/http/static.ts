import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import type { AppState } from './context.ts';

const PUBLIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Serves the few files in public/ from memory, read once at start: no path ever reaches the file
 * system, so there is nothing to traverse. Files are small (CSS, a script, icons).
 */
export function serveStatic(prefix: string): Middleware<AppState> {
  const files = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const name of fs.existsSync(PUBLIC) ? fs.readdirSync(PUBLIC) : []) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(PUBLIC, name));
    files.set(`${prefix}/${name}`, { body, type, etag: `"${crypto.hash('sha1', body, 'hex')}"` });
  }
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', file.etag);
    if (ctx.get('If-None-Match') === file.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = file.type;
    ctx.body = file.body;
  };
}
