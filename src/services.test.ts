import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * The modules `file` loads when it is imported, followed through our own files: each of our files
 * reached (absolute paths) and each package named. Type-only imports are erased, and `import()`
 * runs only when called, so neither counts.
 */
function staticImports(file: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>(); // package specifier -> first file importing it
  const visit = (current: string) => {
    if (files.has(current)) return;
    files.add(current);
    const source = ts.createSourceFile(current, fs.readFileSync(current, 'utf8'), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(statement)) {
        const clause = statement.importClause;
        const typeOnly =
          clause?.isTypeOnly ||
          (clause !== undefined &&
            clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly));
        if (!typeOnly) specifier = statement.moduleSpecifier;
      } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
        specifier = statement.moduleSpecifier;
      }
      if (!specifier || !ts.isStringLiteral(specifier)) continue;
      const name = specifier.text;
      if (name.startsWith('.')) visit(path.resolve(path.dirname(current), name));
      else if (!name.startsWith('node:') && !packages.has(name)) packages.set(name, current);
    }
  };
  visit(path.resolve(file));
  return { files, packages };
}

const isHttpPackage = (name: string) => /^(koa|koa-[\w-]+|@koa\/[\w-]+|oidc-provider)(\/|$)/.test(name);

describe('services without HTTP', () => {
  it("src/services.ts's static import graph holds neither koa, @koa/* nor oidc-provider", () => {
    const { files, packages } = staticImports('src/services.ts');
    // The walk reaches the services and the packages they run on (it would see an HTTP import).
    assert.ok(files.has(path.resolve('src/features/accounts/accounts.service.ts')), [...files].join('\n'));
    assert.ok(packages.has('kysely') && packages.has('argon2'), [...packages.keys()].join(', '));
    const http = [...packages].filter(([name]) => isHttpPackage(name));
    assert.deepEqual(
      http.map(([name, from]) => `${name} (imported by ${path.relative('.', from)})`),
      [],
    );
  });

  it('the walk tells a static import from a type-only or a lazy one', () => {
    // app.ts imports Koa; the metadata validator imports oidc-provider's types only, and loads
    // the provider with import() when it first checks.
    assert.ok(staticImports('src/app.ts').packages.has('koa'));
    const validator = staticImports('src/oidc/client-metadata-validator.ts');
    assert.deepEqual([...validator.packages.keys()], []);
    assert.match(
      fs.readFileSync('src/oidc/client-metadata-validator.ts', 'utf8'),
      /await import\('\.\/provider\.ts'\)/,
    );
  });
});
