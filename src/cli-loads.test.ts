import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildDist, runNode } from '../test/support/process.ts';
import { cliDatabaseEnv, createTestDatabase, testBackend, type TestDatabase } from '../test/support/database.ts';
import { loadConfig } from './config.ts';

// What `latchkey` loads, recorded by a module-resolution hook (node --import): `--help` loads no
// package at all, and the commands use the services without the HTTP app (no Koa, no
// oidc-provider); only registering an application loads oidc-provider, to check its metadata.

const HOOKS = `import fs from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  fs.appendFileSync(log, resolved.url + '\\n');
  return resolved;
}
`;

/** The node_modules package a module URL belongs to (`@scope/name` or `name`), or null. */
function packageOf(url: string): string | null {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m ? m[1]! : null;
}

const HTTP_PACKAGES = /^(koa|koa-[\w-]+|@koa\/[\w-]+|oidc-provider)$/;

describe('what the latchkey command loads', () => {
  let dir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  let register: string;

  /** Runs `latchkey <args>` and returns every module URL it resolved. */
  async function loads(args: string[], input?: string): Promise<string[]> {
    const log = path.join(dir, `${crypto.randomUUID()}.log`);
    fs.writeFileSync(log, '');
    const r = await runNode(['--import', register, 'bin/latchkey.js', ...args], {
      env: { ...env, LOAD_LOG: log },
      ...(input === undefined ? {} : { input }),
    });
    assert.equal(r.code, 0, r.stderr);
    return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }
  const packages = (urls: string[]) => new Set(urls.map(packageOf).filter((p): p is string => p !== null));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-cli-loads-'));
    fs.writeFileSync(path.join(dir, 'hooks.mjs'), HOOKS);
    fs.writeFileSync(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)}, { data: { log: process.env.LOAD_LOG } });
`,
    );
    register = pathToFileURL(path.join(dir, 'register.mjs')).href;
    database = await createTestDatabase(dir);
    env = cliDatabaseEnv(
      loadConfig({
        DATABASE_URL: database.url,
        ...(testBackend === 'postgres' ? { SECRETS_KEY: crypto.randomBytes(32).toString('base64') } : {}),
      }),
    );
    await buildDist();
  });
  after(async () => {
    await database.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('latchkey --help loads the compiled CLI and no package (neither koa nor oidc-provider)', async () => {
    const urls = await loads(['--help']);
    assert.ok(
      urls.some((u) => u.endsWith('/dist/cli.js')),
      urls.join('\n'),
    );
    assert.deepEqual([...packages(urls)], []);
  });

  it('latchkey keys --help loads no package either', async () => {
    assert.deepEqual([...packages(await loads(['keys', '--help']))], []);
  });

  it('users create runs on the services: the database driver, no koa, no oidc-provider', async () => {
    const urls = await loads(
      ['users', 'create', '--email', 'loads@example.com', '--password-stdin'],
      'a long password',
    );
    const loaded = packages(urls);
    assert.ok(loaded.has('kysely'), [...loaded].join(', '));
    assert.deepEqual(
      [...loaded].filter((p) => HTTP_PACKAGES.test(p)),
      [],
    );
    assert.ok(!urls.some((u) => u.endsWith('/dist/app.js')));
  });

  it('apps create loads oidc-provider to check the metadata, and still not the HTTP app', async () => {
    const urls = await loads([
      'apps',
      'create',
      '--owner',
      'loads@example.com',
      '--name',
      'Loads',
      '--scopes',
      'read:users',
      '--type',
      'service',
    ]);
    const loaded = packages(urls);
    assert.ok(loaded.has('oidc-provider'), [...loaded].join(', '));
    assert.ok(!loaded.has('@koa/router') && !loaded.has('koa-mount'), [...loaded].join(', '));
    assert.ok(!urls.some((u) => u.endsWith('/dist/app.js')));
  });
});
