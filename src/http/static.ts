import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type { Middleware } from 'koa';
import type { AppState } from './context.ts';
import { PUBLIC_DIR } from '../shared/project-dirs.ts';

const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Files of npm packages served as our own (no CDN: the pages' CSP allows only this origin's
 * scripts), by the name they have under the prefix.
 */
const require = createRequire(import.meta.url);
const SWAGGER_UI = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const SWAGGER_UI_VERSION = (
  JSON.parse(fs.readFileSync(path.join(SWAGGER_UI, 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/**
 * Swagger UI (the API reference at /docs), under names that carry its version: an upgrade changes
 * the names, so browsers may keep these files for a year (`VERSIONED`) and never hold a stale one.
 */
export const SWAGGER_UI_ASSETS = {
  script: `swagger-ui-bundle-${SWAGGER_UI_VERSION}.js`,
  style: `swagger-ui-${SWAGGER_UI_VERSION}.css`,
};
const VERSIONED = new Set(Object.values(SWAGGER_UI_ASSETS));

const PACKAGED: Record<string, string> = {
  [SWAGGER_UI_ASSETS.script]: path.join(SWAGGER_UI, 'swagger-ui-bundle.js'),
  [SWAGGER_UI_ASSETS.style]: path.join(SWAGGER_UI, 'swagger-ui.css'),
  // The browser half of passkeys: SimpleWebAuthn's UMD build, the global `SimpleWebAuthnBrowser`.
  'simplewebauthn-browser.js': path.join(
    path.dirname(require.resolve('@simplewebauthn/browser')),
    '../dist/bundle/index.umd.min.js',
  ),
};

/**
 * Files up to this size are held in memory from start. Larger ones (Swagger UI's bundle, 1.7 MB,
 * and its stylesheet) are read from disk on each request instead: only /docs loads them, browsers
 * keep them for a year, and holding them would keep ~2 MB resident in every server for nothing.
 */
export const HELD_BYTES = 64 * 1024;

interface StaticFile {
  /** The file's bytes when held in memory; undefined when read on each request. */
  body: Buffer | undefined;
  path: string;
  type: string;
  etag: string;
  cache: string;
}

/**
 * Serves the few files in public/ (and PACKAGED) by fixed names, listed once at start: no path from
 * a request ever reaches the file system, so there is nothing to traverse. Small files (CSS,
 * scripts, icons) are served from memory; see HELD_BYTES for the others. Each ETag is the SHA-1 of
 * the file as read at start.
 */
export function serveStatic(prefix: string): Middleware<AppState> {
  const files = new Map<string, StaticFile>();
  const sources = [
    ...(fs.existsSync(PUBLIC_DIR) ? fs.readdirSync(PUBLIC_DIR) : []).map(
      (name) => [name, path.join(PUBLIC_DIR, name)] as const,
    ),
    ...Object.entries(PACKAGED),
  ];
  for (const [name, file] of sources) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const bytes = fs.readFileSync(file);
    const cache = VERSIONED.has(name) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600';
    files.set(`${prefix}/${name}`, {
      body: bytes.length <= HELD_BYTES ? bytes : undefined,
      path: file,
      type,
      etag: `"${crypto.hash('sha1', bytes, 'hex')}"`,
      cache,
    });
  }
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? files.get(ctx.path) : undefined;
    if (!file) return next();
    ctx.set('Cache-Control', file.cache);
    ctx.set('ETag', file.etag);
    if (ctx.get('If-None-Match') === file.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = file.type;
    ctx.body = file.body ?? (await fs.promises.readFile(file.path));
  };
}
