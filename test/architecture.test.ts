import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

// The layers of src/ and the arrows allowed between them (docs/architecture.md draws them). The
// rules are data, here at the top, so that moving a file or adding a folder is a one-line change.

/**
 * Layers, lowest first: a file may import its own layer and any layer below it, never one above.
 * A file belongs to the layer of the first pattern (in FILE_LAYERS order) that matches its path.
 */
export const LAYER_ORDER = ['domain', 'wire', 'lib', 'db', 'services', 'transport', 'composition'] as const;
type Layer = (typeof LAYER_ORDER)[number] | 'sdk';

/** Which layer a file is in: the first match wins, so the specific patterns come first. */
export const FILE_LAYERS: [RegExp, Layer][] = [
  // Composition roots: they build everything and may import anything.
  [/^src\/(app|services|server|serve|cli|main|housekeeping)\.ts$/, 'composition'],
  [/^src\/(boot|cli)\//, 'composition'],
  // The HTTP app and its sub-apps (one per audience) mount features: composition too.
  [/^src\/http\/(app\.ts$|apps\/)/, 'composition'],
  // The list of API route groups, assembled from the features' route specs.
  [/^src\/api\/route-groups\.ts$/, 'composition'],
  // The vocabulary: imports nothing of ours.
  [/^src\/domain\//, 'domain'],
  // Request and response shapes (zod): the domain only.
  [/^src\/wire\//, 'wire'],
  // The SDK is a client of the wire format: domain and wire only (plus its own helpers).
  [/^src\/sdk\//, 'sdk'],
  // Storage: the database client, migrations and every repository (the only SQL).
  [/^src\/db\//, 'db'],
  [/\.repo\.ts$/, 'db'],
  // Helpers with no opinion about HTTP or storage: crypto, caches, configuration, logging.
  [/^src\/shared\/credential-relay\.ts$/, 'services'],
  [/^src\/shared\//, 'lib'],
  [/^src\/(config|logger)\.ts$/, 'lib'],
  // HTTP: routes, pages, middleware, the OAuth provider and what runs in front of it.
  [/^src\/(http|api)\//, 'transport'],
  [/^src\/features\/dashboard\//, 'transport'],
  [/\.(routes|pages)\.ts$/, 'transport'],
  [/^src\/auth\/(authenticate|principal)\.ts$/, 'transport'],
  [
    new RegExp(
      '^src/oidc/(provider|client-metadata-validator|interactions|protocol-body|token-pipeline|client-auth|' +
        'unified-introspection|provider-introspection|issuer-origin|userinfo|authorize-post)\\.ts$',
    ),
    'transport',
  ],
  [/^src\/features\/rate-limit\/(rate-limiter|token-endpoint|authorize-endpoint)\.ts$/, 'transport'],
  [/^src\/features\/accounts\/(pending-second-factor|fresh-auth|login)\.ts$/, 'transport'],
  [/^src\/features\/admin\/console-access\.ts$/, 'transport'],
  // Everything else under features/, auth/ and oidc/: services and the rules they apply.
  [/^src\/(features|auth|oidc)\//, 'services'],
];

/** What each layer may import besides itself: every layer below it (the SDK: the wire format only). */
export const ALLOWED: Record<Layer, Layer[]> = {
  ...(Object.fromEntries(LAYER_ORDER.map((layer, i) => [layer, LAYER_ORDER.slice(0, i)])) as Record<Layer, Layer[]>),
  sdk: ['domain', 'wire', 'lib'],
};

/**
 * The unit of the cycle check is a file's folder (src/features/api-keys, src/http...), except for
 * files named here, which count as part of another unit: the token and authorization endpoint
 * steps run in front of the provider, so they belong with it.
 */
export const UNIT_OVERRIDES: [RegExp, string][] = [
  // Sub-apps that mount features (one per audience) are composition, like src/http/app.ts: list them
  // here and in FILE_LAYERS, or src/http and the features they mount would import each other.
  [/^src\/features\/rate-limit\/(token-endpoint|authorize-endpoint)\.ts$/, 'src/oidc'],
  [/^src\/(app|services|server|serve|cli|main|housekeeping)\.ts$/, 'src (composition)'],
  [/^src\/(boot|cli)\//, 'src (composition)'],
  [/^src\/http\/(app\.ts$|apps\/)/, 'src (composition)'],
  [/^src\/api\/route-groups\.ts$/, 'src (composition)'],
];

// ---------------------------------------------------------------------------------------------

const ROOT = path.resolve(import.meta.dirname, '..');

/** Every source file of the product (tests and their helpers are not part of the layering). */
function sourceFiles(dir = 'src'): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(rel));
    else if (rel.endsWith('.ts') && !rel.endsWith('.test.ts') && !rel.endsWith('.d.ts')) out.push(rel);
  }
  return out.sort();
}

interface Arrow {
  from: string;
  to: string;
}

/** The relative imports (static, dynamic, `export ... from`) of a file, as repository paths. */
function importsOf(file: string): Arrow[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => ({ from: file, to: path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) }));
}

export function layerOf(file: string): Layer {
  const hit = FILE_LAYERS.find(([pattern]) => pattern.test(file));
  if (!hit) throw new Error(`${file} is in no layer: add it to FILE_LAYERS in test/architecture.test.ts`);
  return hit[1];
}

const unitOf = (file: string): string =>
  UNIT_OVERRIDES.find(([pattern]) => pattern.test(file))?.[1] ?? path.posix.dirname(file);

/** Arrows that point from a layer to one it may not import. */
export function forbiddenArrows(arrows: Arrow[]): string[] {
  return arrows
    .filter(({ from, to }) => {
      const a = layerOf(from);
      const b = layerOf(to);
      return a !== b && !ALLOWED[a].includes(b);
    })
    .map(({ from, to }) => `${from} (${layerOf(from)}) imports ${to} (${layerOf(to)})`);
}

/** Folder-level cycles (Tarjan's strongly connected components), each with the imports that close it. */
export function folderCycles(arrows: Arrow[]): string[] {
  const edges = new Map<string, Map<string, Arrow[]>>();
  for (const arrow of arrows) {
    const a = unitOf(arrow.from);
    const b = unitOf(arrow.to);
    if (a === b) continue;
    const out = edges.get(a) ?? new Map<string, Arrow[]>();
    out.set(b, [...(out.get(b) ?? []), arrow]);
    edges.set(a, out);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return components.map((units) => {
    const inside = new Set(units);
    const closing = units.flatMap((u) =>
      [...(edges.get(u) ?? [])].filter(([to]) => inside.has(to)).flatMap(([, via]) => via),
    );
    return `${units.join(' <-> ')}: ${closing.map(({ from, to }) => `${from} imports ${to}`).join('; ')}`;
  });
}

describe('architecture: the layers and the arrows between them', () => {
  const files = sourceFiles();
  const arrows = files.flatMap(importsOf);

  it('every import resolves to a file that exists (the walk sees what the compiler sees)', () => {
    const missing = arrows.filter(({ to }) => !fs.existsSync(path.join(ROOT, to))).map((a) => `${a.from} -> ${a.to}`);
    assert.deepEqual(missing, []);
    assert.ok(arrows.length > 300, `only ${arrows.length} imports found: the walk is broken`);
  });

  it('every source file is in a layer', () => {
    assert.deepEqual(
      files.filter((f) => !FILE_LAYERS.some(([p]) => p.test(f))),
      [],
    );
  });

  it('no import points up a layer', () => {
    assert.deepEqual(forbiddenArrows(arrows), []);
  });

  it('the domain imports nothing of ours; the wire format only the domain', () => {
    const leaks = arrows.filter(
      ({ from, to }) =>
        (layerOf(from) === 'domain' && layerOf(to) !== 'domain') ||
        (layerOf(from) === 'wire' && !['domain', 'wire'].includes(layerOf(to))),
    );
    assert.deepEqual(leaks, []);
  });

  it('no folder-level import cycle', () => {
    assert.deepEqual(folderCycles(arrows), []);
  });

  it('the checks catch what they are for (a forbidden arrow, a cycle), naming the file and the import', () => {
    const up = forbiddenArrows([{ from: 'src/domain/errors.ts', to: 'src/http/errors.ts' }]);
    assert.deepEqual(up, ['src/domain/errors.ts (domain) imports src/http/errors.ts (transport)']);
    const cycle = folderCycles([
      { from: 'src/db/refuse-nul.ts', to: 'src/http/errors.ts' },
      { from: 'src/http/error-handler.ts', to: 'src/db/unavailable.ts' },
      { from: 'src/http/error-handler.ts', to: 'src/domain/errors.ts' },
    ]);
    assert.deepEqual(cycle, [
      'src/db <-> src/http: src/db/refuse-nul.ts imports src/http/errors.ts; ' +
        'src/http/error-handler.ts imports src/db/unavailable.ts',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Modules whose import puts async context tracking in the process: on Node 20 the first
 * AsyncLocalStorage#run or enabled hook turns promise hooks on for every promise, for good (each
 * await then costs about 2.5 times as much). oidc-provider's own store is imported by one module
 * only, the one that keeps it off (src/oidc/provider-store.ts).
 */
const ASYNC_CONTEXT_MODULES = new Set(['node:async_hooks', 'async_hooks']);
const PROVIDER_STORE = 'oidc-provider/lib/helpers/als.js';
const PROVIDER_STORE_KEEPER = 'src/oidc/provider-store.ts';

/** The imports (static, dynamic, require) of async context tracking in these files' text. */
export function asyncContextImports(files: { file: string; text: string }[]): string[] {
  return files.flatMap(({ file, text }) =>
    ts
      .preProcessFile(text, true, true)
      .importedFiles.map((i) => i.fileName)
      .filter((spec) => ASYNC_CONTEXT_MODULES.has(spec) || (spec === PROVIDER_STORE && file !== PROVIDER_STORE_KEEPER))
      .map((spec) => `${file} imports ${spec}`),
  );
}

describe('architecture: no async context tracking in the process', () => {
  it("no source file imports node:async_hooks (AsyncLocalStorage, createHook), nor oidc-provider's store", () => {
    const files = sourceFiles().map((file) => ({ file, text: fs.readFileSync(path.join(ROOT, file), 'utf8') }));
    assert.deepEqual(asyncContextImports(files), []);
    // The one module that keeps the store off still reaches it (else the hooks come back on).
    const keeper = fs.readFileSync(path.join(ROOT, PROVIDER_STORE_KEEPER), 'utf8');
    assert.deepEqual(asyncContextImports([{ file: 'src/elsewhere.ts', text: keeper }]), [
      `src/elsewhere.ts imports ${PROVIDER_STORE}`,
    ]);
  });

  it('the check catches each way in (import, named import, dynamic import, require)', () => {
    const found = asyncContextImports([
      { file: 'src/a.ts', text: "import { AsyncLocalStorage } from 'node:async_hooks';" },
      { file: 'src/b.ts', text: "import * as hooks from 'async_hooks';" },
      { file: 'src/c.ts', text: "const { createHook } = await import('node:async_hooks');" },
      { file: 'src/d.ts', text: "const hooks = require('async_hooks');" },
      { file: 'src/e.ts', text: "import store from 'oidc-provider/lib/helpers/als.js';" },
      { file: 'src/f.ts', text: "import { setTimeout } from 'node:timers/promises';" },
    ]);
    assert.deepEqual(found, [
      'src/a.ts imports node:async_hooks',
      'src/b.ts imports async_hooks',
      'src/c.ts imports node:async_hooks',
      'src/d.ts imports async_hooks',
      'src/e.ts imports oidc-provider/lib/helpers/als.js',
    ]);
  });
});
