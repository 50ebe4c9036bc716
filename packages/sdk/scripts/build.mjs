#!/usr/bin/env node
// Builds the package with TypeScript alone: dist/esm for `import`, dist/cjs for `require`, each
// with its own .d.ts (a CommonJS consumer needs declarations that are CommonJS too). The two
// compilations are independent, so they run side by side.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** `tsc -p project`; resolves with whether it succeeded (its errors go to our output). */
function compile(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

// From scratch, so a file removed from src/ cannot linger in what gets packed.
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const projects = ['tsconfig.json', 'tsconfig.cjs.json'];
const results = await Promise.all(projects.map(compile));
const failed = projects.filter((_, i) => !results[i]);
if (failed.length > 0) {
  console.error(`@latchkey/sdk: tsc -p ${failed.join(', ')} failed (the errors are above)`);
  process.exit(1);
}
fs.writeFileSync(path.join(root, 'dist/cjs/package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
