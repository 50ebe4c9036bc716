import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../../../test/support/server.ts';
import { worldOn } from '../../../test/support/world.ts';

const PACKAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = path.resolve(PACKAGE_DIR, '../..');
const TSC = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
/** Installing a package with no dependencies from a local tarball is a matter of seconds. */
const INSTALL_BUDGET_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a command in `cwd` with a plain environment: none of the test runner's npm_* settings or
 * NODE_OPTIONS (which could point npm elsewhere or load tsx into the user's node).
 */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^npm_/i.test(key) && key !== 'NODE_OPTIONS') clean[key] = value;
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** The documented snippet, as a user pastes it into a module of their own (the key is theirs). */
const esmSnippet = (key: string) => `import { APIClient } from '@latchkey/sdk';

const client = new APIClient({
  apiKey: '${key}'
});

const result = await client.auth.test();
console.log('Authentication valid:', result.valid);
`;

/** The same in CommonJS: require, and the awaits inside an async function. */
const cjsSnippet = (key: string) => `const { APIClient } = require('@latchkey/sdk');
const { verifyStandardWebhook, verifyWebhookSignature } = require('@latchkey/sdk/webhooks');

async function main() {
  const client = new APIClient({
    apiKey: '${key}'
  });

  const result = await client.auth.test();
  console.log('Authentication valid:', result.valid);
  console.log('Verifiers:', typeof verifyWebhookSignature, typeof verifyStandardWebhook);
}

main();
`;

/**
 * A TypeScript consumer that uses the package's types. Types that had decayed to `any` would turn
 * each @ts-expect-error into an error of its own ("unused directive"), so those prove they are real.
 */
const consumerSource = (from: 'esm' | 'cjs') => `${
  from === 'esm'
    ? `import { APIClient, APIError, type ApiKey, type AuthTestResult, type WebhookDelivery } from '@latchkey/sdk';
import { verifyStandardWebhook, verifyWebhookSignature } from '@latchkey/sdk/webhooks';`
    : `import sdk = require('@latchkey/sdk');
import webhooks = require('@latchkey/sdk/webhooks');
const { APIClient, APIError } = sdk;
const { verifyStandardWebhook, verifyWebhookSignature } = webhooks;
type ApiKey = sdk.ApiKey;
type AuthTestResult = sdk.AuthTestResult;
type WebhookDelivery = sdk.WebhookDelivery;`
}

export async function check(apiKey: string): Promise<string[]> {
  const client = new APIClient({ apiKey, baseUrl: 'http://localhost:3000', maxRetries: 1 });
  const result: AuthTestResult = await client.auth.test();
  const scopes: string[] = result.valid ? result.scopes : [];
  const keys: ApiKey[] = await client.apiKeys.list();
  const created = await client.apiKeys.create({ name: 'ci', scopes: ['read:users'] });
  const secret: string = created.key;
  const page = await client.users.list({ limit: 10 });
  const next: string | null = page.next_after;
  const deliveries: WebhookDelivery[] = await client.webhooks.deliveries('whe_1', { limit: 5 });
  const ok: boolean =
    verifyWebhookSignature('{}', 'sig', secret) ||
    verifyStandardWebhook('{}', { 'webhook-id': 'a', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' }, secret);
  // @ts-expect-error: a key's status is one of four words
  const wrong: ApiKey['status'] = 'paused';
  // @ts-expect-error: auth.test() answers an object, not a boolean
  const flag: boolean = await client.auth.test();
  try {
    await client.projects.get('prj_1');
  } catch (err) {
    if (err instanceof APIError) return [err.code, String(err.status), err.requestId ?? ''];
  }
  const rest = [String(next), String(deliveries.length), String(ok), wrong, String(flag)];
  return [...scopes, ...keys.map((k) => k.id), ...rest];
}
`;

// The SDK as a user gets it: packed, installed from the tarball into an empty project, and run
// and type-checked there, with nothing from this repository on the way.
describe('@latchkey/sdk, installed from its tarball into an empty project', () => {
  let server: TestServer;
  let key: string;
  let tmp: string;
  let project: string;
  let install: Run;
  let packed: { filename: string; files: { path: string }[] };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-sdk-package-'));
    project = path.join(tmp, 'app');
    fs.mkdirSync(project);
    // npm's cache in the temp folder: nothing shared with other runs, and proof that nothing
    // needed downloading.
    const npmEnv = { npm_config_cache: path.join(tmp, 'npm-cache'), npm_config_update_notifier: 'false' };
    const packAndInstall = async () => {
      // `npm pack` builds first (the package's prepack script).
      const pack = await run('npm', ['pack', '--offline', '--json', '--pack-destination', tmp], PACKAGE_DIR, npmEnv);
      assert.equal(pack.code, 0, pack.stderr);
      [packed] = JSON.parse(pack.stdout) as [typeof packed];
      fs.writeFileSync(
        path.join(project, 'package.json'),
        `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2)}\n`,
      );
      install = await run(
        'npm',
        ['install', '--offline', '--no-audit', '--no-fund', path.join(tmp, packed.filename)],
        project,
        npmEnv,
      );
      assert.equal(install.code, 0, install.stderr);
    };
    const startServer = async () => {
      server = await startTestServer();
      const make = worldOn(server);
      ({ key } = await make.apiKey(await make.user(), ['read:users']));
    };
    await Promise.all([packAndInstall(), startServer()]);
  });
  after(async () => {
    await server?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs only the built package: no sources, tests or build scripts', () => {
    const files = packed.files.map((f) => f.path).sort();
    assert.ok(files.includes('package.json') && files.includes('README.md') && files.includes('LICENSE'));
    for (const entry of ['index', 'webhooks']) {
      for (const flavour of ['esm', 'cjs']) {
        assert.ok(files.includes(`dist/${flavour}/${entry}.js`), `dist/${flavour}/${entry}.js`);
        assert.ok(files.includes(`dist/${flavour}/${entry}.d.ts`), `dist/${flavour}/${entry}.d.ts`);
      }
    }
    assert.ok(files.includes('dist/cjs/package.json'));
    assert.deepEqual(
      files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f)),
      [],
    );
  });

  it('installs offline in seconds, with nothing but itself in node_modules', () => {
    assert.ok(install.ms < INSTALL_BUDGET_MS, `npm install took ${install.ms} ms`);
    const modules = path.join(project, 'node_modules');
    assert.deepEqual(
      fs.readdirSync(modules).filter((name) => !name.startsWith('.')),
      ['@latchkey'],
    );
    assert.deepEqual(fs.readdirSync(path.join(modules, '@latchkey')), ['sdk']);
    const lock = JSON.parse(fs.readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/@latchkey/sdk']);
  });

  it('runs the documented snippet as an ES module and prints "Authentication valid: true"', async () => {
    fs.writeFileSync(path.join(project, 'check.mjs'), esmSnippet(key));
    const result = await run(process.execPath, ['check.mjs'], project, { LATCHKEY_BASE_URL: server.url });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'Authentication valid: true');
  });

  it('runs the same with require() (CommonJS), both entry points', async () => {
    fs.writeFileSync(path.join(project, 'check.cjs'), cjsSnippet(key));
    const result = await run(process.execPath, ['check.cjs'], project, { LATCHKEY_BASE_URL: server.url });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['Authentication valid: true', 'Verifiers: function function']);
  });

  it('type-checks a strict NodeNext consumer, ESM and CommonJS, with zero errors', async () => {
    fs.writeFileSync(path.join(project, 'consumer.mts'), consumerSource('esm'));
    fs.writeFileSync(path.join(project, 'consumer.cts'), consumerSource('cjs'));
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          // Node's own types, as a Node project has them; the package brings everything else.
          typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['consumer.mts', 'consumer.cts'],
      }),
    );
    const result = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    assert.equal(result.stdout + result.stderr, '');
    assert.equal(result.code, 0);
  });
});
