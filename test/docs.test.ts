import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { API_SCOPES } from '../src/domain/scopes.ts';
import { EVENT_TYPES } from '../src/domain/webhook-events.ts';
import { fileURLToPath } from 'node:url';

// The README and docs/ are what a newcomer reads first: they must stand on their own (no path
// outside the repository, no link to nowhere) and keep up with the code they describe.

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchorsIn(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
}

/** Every Markdown link target `[text](target)` that is not a URL with a scheme. */
function relativeLinks(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe('README and docs/', () => {
  it('exist: the README links to the API guide and the configuration page', () => {
    const readme = read('README.md');
    assert.match(readme, /\]\(docs\/api-guide\.md\)/);
    assert.match(readme, /\]\(docs\/configuration\.md\)/);
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /npm test/);
  });

  it('never point outside the repository', () => {
    for (const file of DOCS) {
      const text = read(file);
      assert.doesNotMatch(text, /\.\.\/shared|\/work\/|DESIGN\.md/, file);
      assert.doesNotMatch(text, /\bseed\b(?!s)/i, `${file} cites a reference that is not in the repository`);
      for (const target of relativeLinks(text)) {
        const resolved = path.resolve(
          path.dirname(path.join(REPO_ROOT, file)),
          target.split('#')[0] || path.basename(file),
        );
        assert.ok(resolved.startsWith(REPO_ROOT + path.sep), `${file}: ${target} leaves the repository`);
      }
    }
  });

  it('have no broken relative link or anchor', () => {
    for (const file of DOCS) {
      for (const target of relativeLinks(read(file))) {
        const [filePart, anchor] = target.split('#') as [string, string | undefined];
        const linked = filePart ? path.join(path.dirname(file), filePart) : file;
        assert.ok(fs.existsSync(path.join(REPO_ROOT, linked)), `${file}: ${target} names no file`);
        if (anchor && linked.endsWith('.md')) {
          assert.ok(anchorsIn(read(linked)).has(anchor), `${file}: ${target} names no heading`);
        }
      }
    }
  });

  it('docs/configuration.md documents every setting the server reads', () => {
    const page = read('docs/configuration.md');
    // Every setting loadConfig looks up, set or not (an unset optional one is absent from its result).
    const looked = new Set<string>();
    loadConfig(
      new Proxy({} as Record<string, string | undefined>, {
        get: (_, key) => {
          if (typeof key === 'string') looked.add(key);
          return undefined;
        },
      }),
    );
    const settings = [...looked];
    assert.ok(settings.length >= 40, `found ${settings.length} settings`);
    assert.deepEqual(
      settings.filter((key) => !page.includes(`| \`${key}\``)),
      [],
      'settings missing from the tables of docs/configuration.md',
    );
  });

  it('the API guide describes every scope and every webhook event', () => {
    const guide = read('docs/api-guide.md');
    for (const scope of Object.keys(API_SCOPES)) assert.ok(guide.includes(`| \`${scope}\``), `scope ${scope}`);
    for (const event of EVENT_TYPES) assert.ok(guide.includes(`| \`${event}\``), `event ${event}`);
  });
});
