// The server as `npm start` runs it: tsc's output (dist/main.js) and every package it imports, in
// one bundle in dist/server/, without whitespace.
//
// Why: Node keeps each module's source text in the heap for as long as the process runs, and a
// module's objects with it. The bundle holds the same code in fewer bytes and drops the package
// code nothing calls (zod's locales, say): ~7 MiB less resident at rest, 10-15 MiB under load
// (bench/README.md). Names are kept (no mangling), so stack traces still name the functions;
// dist/server/*.js.map leads back to dist/ and src/ under `node --enable-source-maps`.
//
// Only whitespace goes, not syntax: esbuild's syntax minifier drops the name of a class that
// nothing refers to by name, and oidc-provider tells its token kinds apart by their classes' names
// (`class AccessToken`, each kind's lifetime in `ttl[this.name]`, the model its rows are stored
// under). Shortened, every kind was '' and no token expired. esbuild's keepNames would restore the
// names, but it renames every function at creation, and costs the /v2 path ~40 % more CPU.
//
// What stays out, loaded from node_modules at run time as before: native addons (their loaders
// find the .node file from their own folder), and the packages the server imports only on first
// use (passkeys, password strength, QR codes, mail; pg through createRequire). Those keep their
// laziness and load exactly as the test suite loads them, whatever their package format.
//
//   node scripts/bundle-server.mjs     (npm run build runs it after tsc)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'server');

// Packages written as CommonJS call `require`, which an ES module does not have: each chunk makes
// its own from its file's URL, before any bundled code runs.
const REQUIRE_SHIM =
  "import { createRequire as createRequireForBundle } from 'node:module';\n" +
  'const require = createRequireForBundle(import.meta.url);';

fs.rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: path.join(root, 'dist', 'main.js') },
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [
    ...['better-sqlite3', 'argon2', 'pg', 'pg-native'],
    ...['@simplewebauthn/server', '@zxcvbn-ts/*', 'qrcode', 'nodemailer'],
  ],
  minifyWhitespace: true,
  sourcemap: 'linked',
  banner: { js: REQUIRE_SHIM },
  legalComments: 'none',
  logLevel: 'warning',
});
